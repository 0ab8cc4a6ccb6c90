// What the 1:1 and the group call screens share.
import { focus } from '../util.js';

/**
 * Closes a call screen's dialog and gives the focus back when it was inside (or nowhere):
 * to the control that opened the screen if it is still shown, else to the page's heading.
 */
export function closeCallScreen(dlg, opener) {
  const hadFocus = dlg.contains(document.activeElement);
  dlg.close();
  dlg.remove();
  if (hadFocus || document.activeElement === document.body) {
    if (opener?.isConnected && !opener.closest('[hidden]')) focus(opener);
    else focus(document.querySelector('main h1') || document.querySelector('main'));
  }
}
