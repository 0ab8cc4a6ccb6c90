import Core
import Foundation
import Insurance

/// The assistant used when no language model is configured: it prices OSAGO questions
/// with the engine and answers other questions from the curated knowledge base, and says
/// so plainly when it does not know.
public struct BuiltInAssistant: AssistantEngine {
    public let model = "ecomansoni-builtin"
    public let kind = "builtin"

    let calculator: OsagoCalculator
    let knowledge: KnowledgeBase
    let today: @Sendable () -> CalendarDate
    /// Pause between streamed pieces, so long answers arrive as readable text.
    let pace: Duration

    public init(
        calculator: OsagoCalculator, knowledge: KnowledgeBase, pace: Duration = .milliseconds(15),
        today: @escaping @Sendable () -> CalendarDate = { .today() }
    ) {
        self.calculator = calculator
        self.knowledge = knowledge
        self.pace = pace
        self.today = today
    }

    public func answer(_ turns: [ChatTurn], caller: Caller, emit: @Sendable (String) async throws -> Void) async throws {
        let text = try await compose(turns, caller: caller)
        for (index, piece) in RussianText.pieces(text).enumerated() {
            if index > 0 { try await Task.sleep(for: pace) }
            try await emit(piece)
        }
    }

    /// The whole answer to the last user turn.
    func compose(_ turns: [ChatTurn], caller: Caller) async throws -> String {
        let userTurns = turns.filter { $0.role == .user }.map(\.content)
        guard let question = userTurns.last else { return Self.introduction }
        let lower = question.lowercased()
        if Self.isAboutMe(lower) { return Self.introduction }

        // A premium question, or parameters given in reply to one asked earlier.
        let earlierPriceQuestion = userTurns.dropLast().contains(where: PremiumQuestionParser.asksForPrice)
        let latest = PremiumQuestionParser.parse(question)
        let asksPrice = PremiumQuestionParser.asksForPrice(question) && (lower.contains("осаго") || latest.hasAnyParameter || earlierPriceQuestion)
        if asksPrice || (earlierPriceQuestion && latest.hasAnyParameter) {
            var gathered = PremiumQuestion()
            for turn in userTurns { gathered.merge(PremiumQuestionParser.parse(turn)) }
            return premiumAnswer(gathered)
        }

        // Not about insurance at all: a polite refusal, not a knowledge-base guess.
        guard InsuranceTopic.isAbout(question) else { return Self.offTopic }

        let hits = try await knowledge.search(question, caller: caller)
        guard let best = hits.first else { return Self.unknown }
        var answer = best.article.body + "\n\nИсточник: \(best.article.title) — \(best.article.source)."
        let links = await knowledge.links(of: best.article.slug)
        if !links.isEmpty { answer += "\nСсылки: " + links.joined(separator: " ") }
        let related = hits.dropFirst().filter { $0.rank >= best.rank * 0.6 }.map(\.article.title)
        if !related.isEmpty { answer += "\nСм. также: " + related.joined(separator: "; ") + "." }
        return answer
    }

    private func premiumAnswer(_ question: PremiumQuestion) -> String {
        let missing = question.missing
        guard missing.isEmpty, let power = question.powerHp, let territory = question.territory else {
            var known: [String] = []
            if let power = question.powerHp { known.append("мощность \(RussianText.number(power)) л.с.") }
            if let territory = question.territory, let row = calculator.catalog.latest.territory(code: territory) { known.append(row.name) }
            if let age = question.age { known.append("возраст \(age)") }
            if let experience = question.experienceYears { known.append("стаж \(experience)") }
            let knownText = known.isEmpty ? "" : "Уже знаю: " + known.joined(separator: ", ") + ". "
            return "Посчитаю стоимость ОСАГО по формуле Банка России. \(knownText)Чтобы рассчитать, напишите ещё: "
                + missing.joined(separator: ", ") + ".\nНапример: «150 л.с., Москва, возраст 35, стаж 10 лет, класс КБМ 13»."
        }
        let kbmClass = question.kbmClass ?? calculator.catalog.latest.kbm.startClass
        let request = QuoteRequest(
            date: nil, category: "B", powerHp: power, taxi: question.taxi, territory: territory, tb: question.tb,
            periodMonths: question.months,
            drivers: question.unlimited
                ? .unlimited
                : .named([DriverInput(age: question.age ?? 0, experienceYears: question.experienceYears ?? 0, kbmClass: kbmClass)]),
            ownerKbmClass: question.unlimited ? kbmClass : nil)
        let quote: OsagoQuote
        do {
            quote = try calculator.quote(request, today: today())
        } catch {
            return "Не могу посчитать с такими данными: \(Self.explain(error)). Поправьте, пожалуйста, и спросите ещё раз."
        }
        // The price first (the web client shows the first line in bold), then how it was computed.
        var lines: [String] = []
        if let premium = quote.premium {
            lines.append("Стоимость полиса: \(RussianText.money(premium)) при базовом тарифе \(RussianText.roubles(question.tb ?? 0)) ₽.")
        } else if let range = quote.range {
            lines.append("Стоимость полиса: от \(RussianText.money(range.min)) до \(RussianText.money(range.max)).")
            if let typical = quote.typical {
                lines.append("При средней ставке коридора (\(RussianText.roubles(typical.tb)) ₽) — \(RussianText.money(typical.premium)).")
            }
            lines.append("Базовый тариф (ТБ) каждый страховщик выбирает в коридоре \(RussianText.roubles(range.tbMin))–\(RussianText.roubles(range.tbMax)) ₽; назовите ТБ, и я посчитаю точно.")
        }
        if quote.capped == true { lines.append("Сработало ограничение премии: не больше \(quote.cap?.multiplier ?? 3) × ТБ × КТ.") }
        lines.append("Расчёт ОСАГО по тарифам Банка России (версия \(quote.tariffVersion)):")
        for line in quote.breakdown where line.coefficient != .tb {
            guard let value = line.value else { continue }
            lines.append("• \(Self.names[line.coefficient] ?? line.coefficient.rawValue) \(RussianText.number(value)) — \(line.reason)")
        }
        if question.kbmClass == nil {
            lines.append("Класс КБМ не указан — взят начальный класс \(kbmClass). Напишите свой класс, и я уточню расчёт.")
        }
        if let next = quote.forecast.nextYear.first {
            lines.append("Без аварий через год класс станет \(next.kbmClass) (КБМ \(RussianText.number(next.kbm))).")
        }
        lines.append("Это расчёт встроенного помощника ECOMANSONI по формуле Банка России, а не предложение страховщика.")
        lines.append("Открыть в калькуляторе: " + CalculatorLink.fragment(for: request))
        return lines.joined(separator: "\n")
    }

    private static let names: [Coefficient: String] = [
        .kt: "КТ", .kbm: "КБМ", .kvs: "КВС", .ko: "КО", .km: "КМ", .ks: "КС", .kn: "КН", .kpr: "КПр", .kp: "КП",
    ]

    /// A Russian reading of an engine refusal.
    static func explain(_ error: QuoteInputError) -> String {
        switch error.field {
        case let field where field.hasSuffix("experienceYears"): return "стаж не может быть больше, чем возраст минус 16 лет"
        case let field where field.hasSuffix(".age"): return "возраст водителя должен быть не меньше 16 лет"
        case "vehicle.powerHp": return "мощность двигателя должна быть больше нуля"
        case "tb": return "базовый тариф должен быть внутри коридора Банка России"
        case "periodMonths": return "период использования — от 3 до 12 месяцев"
        case let field where field.hasSuffix("kbmClass") || field == "ownerKbmClass": return "класс КБМ бывает M или от 0 до 13"
        default: return "\(error.field): \(error.rule)"
        }
    }

    private static func isAboutMe(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
        return ["кто ты", "ты кто", "что ты умеешь", "что умеешь", "ты бот", "ты робот"].contains { text.contains($0) }
            || ["привет", "здравствуйте", "здравствуй", "добрый день", "помощь", "help"].contains(trimmed)
    }

    static let introduction = """
        Я встроенный помощник ECOMANSONI — работаю без языковой модели. Умею две вещи:
        • считать стоимость ОСАГО по формуле Банка России: напишите мощность двигателя, город, возраст и стаж водителя (и класс КБМ, если знаете);
        • отвечать на вопросы об ОСАГО и КАСКО из своей справочной базы: документы, действия после ДТП, КБМ, ограничение стоимости, электронный полис.
        """

    static let offTopic = """
        Извините, с этим вопросом я не помогу: я помощник по автострахованию и не знаю ответов на вопросы \
        на другие темы. Спросите меня об ОСАГО или КАСКО — например, «Сколько стоит ОСАГО на 150 л.с. \
        в Москве, стаж 10 лет, возраст 35?» или «Что делать после ДТП?».
        """

    static let unknown = """
        Не знаю ответа на этот вопрос: в моей справочной базе его нет, а придумывать я не буду. \
        Я встроенный помощник ECOMANSONI и отвечаю про ОСАГО и КАСКО. Попробуйте спросить, например: \
        «Что делать после ДТП?», «Какие документы нужны для ОСАГО?», «Что такое КБМ?» или \
        «Сколько стоит ОСАГО на 150 л.с. в Москве, стаж 10 лет, возраст 35».
        """
}
