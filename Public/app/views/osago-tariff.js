// The tariff tables of the OSAGO form, read from GET /functions/v1/osago-tariff (КБМ scale,
// categories, base-rate corridors, limits) instead of a copy in this code. One request per
// policy date and page load; the browser revalidates it with the server's ETag.
const cache = new Map(); // date → Promise of the tables

/** The tables of the tariff version in force on `date` (YYYY-MM-DD). */
export function loadTariff(s, date) {
  if (!cache.has(date)) {
    const p = s.api.call(`/functions/v1/osago-tariff?date=${encodeURIComponent(date)}`, { method: 'GET' });
    cache.set(date, p);
    p.catch(() => cache.delete(date)); // a failure is retried next time
  }
  return cache.get(date);
}

/** The base-rate corridor row for an owner, category and taxi use (the server's rule), or null. */
export function corridorOf(tariff, { owner, category, taxi }) {
  const rows = (tariff?.baseRates || []).filter(r => r.categories.includes(category) && (r.owner == null || r.owner === owner));
  return rows.find(r => !!r.taxi === !!taxi) || null;
}

/** The КБМ of a class label ("3" → "1.17"), or ''. */
export function kbmOf(tariff, label) {
  return tariff?.kbm?.classes?.find(c => c.class === label)?.kbm || '';
}

/** The class labels in scale order (M, 0 … 13). */
export const classesOf = tariff => (tariff?.kbm?.classes || []).map(c => c.class);

/** The start class for a driver without history ("3"). */
export const startClassOf = tariff => tariff?.kbm?.startClass || '3';

/** Least months of use for an owner kind (3 for individuals, 6 for legal entities). */
export const minMonthsOf = (tariff, owner) => tariff?.periodMonths?.minimum?.[owner] || 3;
