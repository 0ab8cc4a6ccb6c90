import Foundation
import Insurance

/// The OSAGO parameters a user gave in plain Russian, gathered across the conversation.
struct PremiumQuestion: Equatable {
    var powerHp: Decimal?
    var territory: String?
    var age: Int?
    var experienceYears: Int?
    var kbmClass: String?
    var months: Int?
    var tb: Decimal?
    var unlimited = false
    var taxi = false

    /// What is still needed before a quote can be given, in the words used to ask for it.
    var missing: [String] {
        var names: [String] = []
        if powerHp == nil { names.append("мощность двигателя (л.с.)") }
        if territory == nil { names.append("город или регион регистрации собственника") }
        if !unlimited {
            if age == nil { names.append("возраст водителя") }
            if experienceYears == nil { names.append("водительский стаж (полных лет)") }
        }
        return names
    }

    /// True when the text gives at least one parameter.
    var hasAnyParameter: Bool { self != PremiumQuestion() }

    /// Later statements override earlier ones.
    mutating func merge(_ newer: PremiumQuestion) {
        powerHp = newer.powerHp ?? powerHp
        territory = newer.territory ?? territory
        age = newer.age ?? age
        experienceYears = newer.experienceYears ?? experienceYears
        kbmClass = newer.kbmClass ?? kbmClass
        months = newer.months ?? months
        tb = newer.tb ?? tb
        unlimited = newer.unlimited || unlimited
        taxi = newer.taxi || taxi
    }
}

/// Recognises premium questions and pulls their parameters out of Russian text.
enum PremiumQuestionParser {
    /// Words that make a message a question about the price ("сколько" alone does not:
    /// "сколько выплатят" asks about payouts).
    private static let priceWords = [
        "стоимост", "стоит", "цена", "цену", "рассчит", "посчит", "расчёт", "расчет", "премия", "почём", "почем",
        "прайс", "сколько будет", "сколько заплат", "сколько платить",
    ]

    /// Territory codes by the word stems that name them (checked in this order).
    private static let territoryStems: [(code: String, pattern: String)] = [
        ("moscow_oblast", #"московск\w*\s+обл|подмосков|\bмо\b"#),
        ("leningrad_oblast", #"ленинградск\w*\s+обл|ленобл"#),
        ("saint_petersburg", #"петербург|\bспб\b|питер"#),
        ("moscow", #"москв|\bмск\b"#),
        ("yekaterinburg", #"екатеринбург|\bекб\b"#),
        ("krasnodar", #"краснодар"#),
        ("rostov_on_don", #"ростов"#),
        ("kazan", #"казан"#),
        ("perm", #"\bперм[ьия]"#),
        ("nizhny_novgorod", #"нижн\w*\s+новгород"#),
        ("ufa", #"\bуф[аеуы]\b"#),
        ("saratov", #"саратов"#),
        ("novosibirsk", #"новосибирск"#),
        ("dnr", #"\bднр\b|донецк"#),
        ("lnr", #"\bлнр\b|луганск"#),
        ("zaporozhye", #"запорож"#),
        ("kherson", #"херсон"#),
    ]

    /// True when `text` asks about a price.
    static func asksForPrice(_ text: String) -> Bool {
        let lower = text.lowercased()
        return priceWords.contains { lower.contains($0) }
    }

    /// The parameters stated in one message.
    static func parse(_ text: String) -> PremiumQuestion {
        let lower = text.lowercased().replacingOccurrences(of: "ё", with: "е")
        var question = PremiumQuestion()
        if let power = firstMatch(#"(\d{1,4}(?:[.,]\d+)?)\s*(?:л\.?\s*с\b|лс\b|л\.с|лошад|hp\b)"#, in: lower)
            ?? firstMatch(#"мощност\w*\D{0,15}(\d{1,4}(?:[.,]\d+)?)"#, in: lower) {
            question.powerHp = Decimal(string: power.replacingOccurrences(of: ",", with: "."), locale: Locale(identifier: "en_US_POSIX"))
        }
        question.territory = territoryStems.first { lower.range(of: $0.pattern, options: .regularExpression) != nil }?.code
        if let age = firstMatch(#"возраст\w*\D{0,12}(\d{2,3})"#, in: lower)
            ?? firstMatch(#"мне\s+(\d{2,3})\s*(?:лет|год)"#, in: lower)
            ?? firstMatch(#"(\d{2,3})\s*(?:лет|год\w*)\s*(?:от\s*роду|возраст)"#, in: lower) {
            question.age = Int(age)
        }
        if let experience = firstMatch(#"стаж\w*\D{0,12}(\d{1,2})"#, in: lower)
            ?? firstMatch(#"(\d{1,2})\s*(?:лет|год\w*)\s*(?:водительского\s*)?стаж"#, in: lower) {
            question.experienceYears = Int(experience)
        } else if lower.range(of: #"без\s+стажа|стаж\w*\s+нет|нет\s+стажа"#, options: .regularExpression) != nil {
            question.experienceYears = 0
        }
        if let label = firstMatch(#"класс\w*\s*(?:кбм\s*)?[:\-—]?\s*(м\b|m\b|\d{1,2})"#, in: lower) {
            question.kbmClass = (label == "м" || label == "m") ? "M" : label
        }
        if let months = firstMatch(#"(\d{1,2})\s*(?:мес)"#, in: lower) {
            question.months = Int(months)
        }
        if let tb = firstMatch(#"(?:\bтб\b|базов\w*\s+(?:ставк|тариф)\w*)\D{0,10}(\d{3,5}(?:[.,]\d+)?)"#, in: lower) {
            question.tb = Decimal(string: tb.replacingOccurrences(of: ",", with: "."), locale: Locale(identifier: "en_US_POSIX"))
        }
        question.unlimited = lower.range(of: #"без\s+ограничени|неограниченн|мультидрайв"#, options: .regularExpression) != nil
        question.taxi = lower.contains("такси")
        return question
    }

    private static func firstMatch(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]),
            let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
            match.numberOfRanges > 1, let range = Range(match.range(at: 1), in: text)
        else { return nil }
        return String(text[range])
    }
}
