import Foundation

/// Whether a question is about motor insurance at all, so the built-in assistant can
/// decline other topics politely instead of searching its knowledge base for them.
enum InsuranceTopic {
    /// Word stems of insurance, driving and accidents (lowercased, «ё» as «е»).
    static let stems = [
        "осаго", "каско", "страх", "полис", "кбм", "квс", "бонус", "малус", "дтп", "авари", "столкнов",
        "европротокол", "гибдд", "гаи", "дпс", "машин", "автомоб", "авто", "транспорт", "водител",
        "вожден", "стаж", "права", "тариф", "коэффициент", "выплат", "возмещ", "ущерб", "ремонт", "эвакуат",
        "рса", "лошад", "л.с", "мощност", "такси", "прицеп", "мотоцикл", "грузов", "штраф", "пдд",
        "госуслуг", "техосмотр", "виновни", "потерпевш", "угон", "премия", "франшиз", "insurance", "osago",
    ]

    /// True when `text` names insurance, a vehicle, driving or an accident.
    static func isAbout(_ text: String) -> Bool {
        let lower = text.lowercased().replacingOccurrences(of: "ё", with: "е")
        return stems.contains { lower.contains($0) }
    }
}
