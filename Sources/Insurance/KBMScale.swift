import Foundation

extension TariffVersion {
    /// The class after one year with `claims` paid claims (4 or more count as 4).
    public func nextKBMClass(from label: String, claims: Int) -> String? {
        guard claims >= 0, let row = kbm.transitions[label] else { return nil }
        return row[min(claims, 4)]
    }

    /// Where `label` goes next year for 0 … 4+ claims, with each class's КБМ.
    public func kbmForecast(from label: String) -> KBMForecast? {
        guard let current = kbmValue(ofClass: label) else { return nil }
        let steps = (0...4).compactMap { claims -> KBMForecast.Step? in
            guard let next = nextKBMClass(from: label, claims: claims), let value = kbmValue(ofClass: next) else { return nil }
            return KBMForecast.Step(claims: claims, kbmClass: next, kbm: value)
        }
        return KBMForecast(kbmClass: label, kbm: current, nextYear: steps)
    }
}
