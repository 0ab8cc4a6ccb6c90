// The people of a group call as tiles (sfu-call.js): one per other device in the room, made
// from the room's peers (ROOM_SNAPSHOT, PEER_JOINED, PEER_LEFT) and the SFU's feeds
// (sfu.feeds), with the person's profile, their streams' mute flags (sfu.media), whether they
// talk (sfu.talking), their receiver tracks (by the subscriber offer's mids) and their
// connection quality from getStats. No DOM; the screen reads `tiles`, `self` and `speaker`.

/** Packet loss (0…1) in words: good, fair or poor. */
export function grade(loss) {
  return loss >= 0.08 ? 'poor' : loss >= 0.02 ? 'fair' : 'good';
}

export class Roster {
  /** `deviceId`/`userId`: this device's; `profileOf(userId)` → profile or a promise of it. */
  constructor({ deviceId, userId, profileOf, changed }) {
    this.tiles = new Map(); // deviceId → tile of another device
    this.feeds = new Map(); // feedId → Feed
    this.self = { self: true, deviceId, userId, talking: false, quality: 'good' };
    this.speaker = null; // deviceId of the latest to start talking
    this.profileOf = profileOf;
    this.changed = changed;
  }

  /** The tile of a device (made when first seen), with the person's profile when known. */
  tile(deviceId, userId) {
    let tile = this.tiles.get(deviceId);
    if (!tile) {
      tile = { deviceId, userId, profile: null, feed: null, tracks: {}, talking: false, quality: 'good' };
      this.tiles.set(deviceId, tile);
      const profile = this.profileOf(userId);
      if (profile?.then) profile.then(p => { if (p && typeof p === 'object') { tile.profile = p; this.changed(); } }).catch(() => {});
      else tile.profile = profile || null;
    }
    return tile;
  }

  /** ROOM_SNAPSHOT: exactly these peers (but this device). */
  snapshot(peers) {
    const present = new Set();
    for (const peer of peers) {
      if (peer.deviceId === this.self.deviceId) continue;
      present.add(peer.deviceId);
      this.tile(peer.deviceId, peer.userId);
    }
    for (const id of [...this.tiles.keys()]) if (!present.has(id)) this.tiles.delete(id);
  }

  joined(p) {
    if (p.deviceId !== this.self.deviceId) this.tile(p.deviceId, p.userId);
  }

  left(p) {
    this.tiles.delete(p.deviceId);
    for (const [id, feed] of this.feeds) if (feed.deviceId === p.deviceId) this.feeds.delete(id);
    if (this.speaker === p.deviceId) this.speaker = null;
  }

  /** sfu.feeds (a snapshot, added or removed feeds); true when a feed stopped publishing. */
  feedsChanged(p) {
    if (p.snapshot) this.feeds.clear();
    for (const feed of [...(p.feeds || []), ...(p.added || [])]) {
      if (!feed?.feedId || feed.deviceId === this.self.deviceId) continue;
      this.feeds.set(feed.feedId, feed);
      this.tile(feed.deviceId, feed.userId);
    }
    let freed = false;
    for (const gone of p.removed || []) {
      const feed = this.feeds.get(gone.feedId);
      if (!feed) continue;
      freed = true;
      if (gone.reason === 'left') this.feeds.delete(gone.feedId);
      else feed.streams = [];
    }
    for (const tile of this.tiles.values()) {
      tile.feed = [...this.feeds.values()].find(feed => feed.deviceId === tile.deviceId) || null;
    }
    return freed;
  }

  /** sfu.media: another device muted or unmuted a kind. */
  mediaChanged(p) {
    for (const stream of this.feeds.get(p.feedId)?.streams || []) if (stream.kind === p.kind) stream.muted = !!p.muted;
  }

  /** sfu.talking (this device's own included); the latest to start is the active speaker. */
  talking(p) {
    const target = p.deviceId === this.self.deviceId ? this.self : this.tiles.get(p.deviceId);
    if (!target) return;
    target.talking = !!p.talking;
    if (p.talking) this.speaker = target.deviceId;
    else if (this.speaker === target.deviceId) this.speaker = [...this.tiles.values()].find(tile => tile.talking)?.deviceId || null;
  }

  /** Whether a subscriber m-line's stream is still published (its feed lists it, or the feed is not known yet). */
  published(stream) {
    const feed = this.feeds.get(stream.feedId);
    return !feed || !!feed.streams?.some(x => x.mid === stream.feedMid);
  }

  /** Whether a subscriber m-line's stream comes in simulcast layers (its feed says so). */
  simulcast(stream) {
    return !!this.feeds.get(stream.feedId)?.streams?.find(x => x.mid === stream.feedMid)?.simulcast;
  }

  /** The receiver tracks by device (Subscriber.tracks) onto the tiles. */
  setTracks(byDevice) {
    for (const [deviceId, entry] of byDevice) this.tile(deviceId, entry.userId);
    for (const tile of this.tiles.values()) tile.tracks = byDevice.get(tile.deviceId) || {};
  }

  clearTracks() {
    for (const tile of this.tiles.values()) tile.tracks = {};
  }

  /** Nobody is heard while the media path is down. */
  quiet() {
    for (const tile of [this.self, ...this.tiles.values()]) tile.talking = false;
    this.speaker = null;
  }

  /** Each tile's quality from its m-lines' loss (Subscriber.stats); the worst loss. */
  measure(byMid) {
    let worst = 0;
    for (const tile of this.tiles.values()) {
      const video = tile.tracks.mids?.video && byMid.get(tile.tracks.mids.video);
      const audio = tile.tracks.mids?.audio && byMid.get(tile.tracks.mids.audio);
      const loss = Math.max(video?.loss || 0, audio?.loss || 0);
      worst = Math.max(worst, loss);
      tile.quality = grade(loss);
    }
    return worst;
  }

  /** The feeds' streams not received yet of feeds already received (a screen shared later): [{feedId, mid}]. */
  missingStreams(received) {
    const receivedFeeds = new Set(received.filter(st => st.active !== false).map(st => st.feedId));
    const want = [];
    for (const feed of this.feeds.values()) {
      if (!receivedFeeds.has(feed.feedId)) continue; // a new feed: the server subscribes it (all:true)
      for (const st of feed.streams || []) {
        if (!received.some(x => x.feedId === feed.feedId && x.feedMid === st.mid && x.active !== false)) want.push({ feedId: feed.feedId, mid: st.mid });
      }
    }
    return want;
  }
}
