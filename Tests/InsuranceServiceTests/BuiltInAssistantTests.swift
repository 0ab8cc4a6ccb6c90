import Core
import Database
import Foundation
import Insurance
@testable import InsuranceService
import Testing
import TestSupport

/// The built-in assistant's intents on Russian questions, against the real knowledge base
/// in PostgreSQL (full-text search with the `russian` configuration).
@Suite struct BuiltInAssistantTests {
    static let caller = Caller(
        role: .authenticated, userID: UUID(), claimsJSON: #"{"role":"authenticated","sub":"00000000-0000-0000-0000-000000000001"}"#)

    static func withAssistant(_ body: @Sendable (BuiltInAssistant) async throws -> Void) async throws {
        try await TestDatabase.withDatabase { database in
            let knowledge = KnowledgeBase(database: database, articles: try KnowledgeBase.bundledArticles())
            let assistant = BuiltInAssistant(
                calculator: OsagoCalculator(catalog: try TariffCatalog.bundled()), knowledge: knowledge, pace: .zero,
                today: { CalendarDate("2026-03-01")! })
            try await body(assistant)
        }
    }

    static func ask(_ assistant: BuiltInAssistant, _ texts: String...) async throws -> String {
        try await assistant.compose(texts.map { ChatTurn(role: .user, content: $0) }, caller: caller)
    }

    @Test func articlesParseAndCarrySources() throws {
        let articles = try KnowledgeBase.bundledArticles()
        #expect(articles.count >= 10)
        #expect(Set(articles.map(\.slug)).count == articles.count)
        #expect(articles.allSatisfy { !$0.source.isEmpty && !$0.title.isEmpty })
        #expect(throws: KnowledgeFormatError.self) { try KnowledgeArticle.parse("no front matter", file: "x.md") }
    }

    @Test(arguments: [
        ("Что делать после ДТП?", "accident"),
        ("попал в аварию, как оформить европротокол", "accident"),
        ("Какие документы нужны для ОСАГО?", "documents"),
        ("Что такое КБМ и как его проверить?", "kbm"),
        ("какой штраф за езду без страховки", "no-policy-fine"),
        ("чем каско отличается от осаго", "kasko-vs-osago"),
        ("можно купить электронный полис на госуслугах?", "e-osago"),
        ("сколько максимум выплатят по осаго при повреждении машины", "payout-limits"),
    ])
    func knowledgeQuestionsFindTheirArticle(question: String, slug: String) async throws {
        try await Self.withAssistant { assistant in
            let hits = try await assistant.knowledge.search(question, caller: Self.caller)
            #expect(hits.first?.article.slug == slug, "\(question) → \(hits.map(\.article.slug))")
            let answer = try await Self.ask(assistant, question)
            #expect(answer.contains("Источник: \(hits.first?.article.title ?? "?")"))
        }
    }

    @Test func premiumQuestionIsPricedWithTheBreakdown() async throws {
        try await Self.withAssistant { assistant in
            let answer = try await Self.ask(assistant, "Сколько стоит ОСАГО на 150 л.с. в Москве, стаж 10 лет, возраст 35, класс 13, ТБ 8665")
            #expect(answer.contains("Стоимость полиса: 9 441,80 ₽"))
            #expect(answer.contains("КМ 1,4"))
            #expect(answer.contains("версия 2025-12-09"))
            let range = try await Self.ask(assistant, "Сколько стоит ОСАГО на 150 л.с. в Москве, стаж 10 лет, возраст 35")
            #expect(range.contains("от 3 877,32 ₽ до 24 015,01 ₽"))
            #expect(range.contains("взят начальный класс 3"))
            // The price comes first; the typical rate's price follows it.
            #expect(answer.hasPrefix("Стоимость полиса: 9 441,80 ₽"))
            #expect(range.hasPrefix("Стоимость полиса: от 3 877,32 ₽ до 24 015,01 ₽."))
            #expect(range.contains("При средней ставке коридора (5 032 ₽) — 13 946,17 ₽."))
        }
    }

    @Test func missingParametersAreAskedForAndImpossibleOnesExplained() async throws {
        try await Self.withAssistant { assistant in
            let incomplete = try await Self.ask(assistant, "сколько стоит осаго?")
            #expect(incomplete.contains("мощность двигателя"))
            #expect(incomplete.contains("город или регион"))
            let impossible = try await Self.ask(assistant, "сколько стоит осаго, 100 л.с., Москва, возраст 20, стаж 10")
            #expect(impossible.hasPrefix("Не могу посчитать"))
            #expect(impossible.contains("минус 16"))
        }
    }

    @Test func aPricedAnswerEndsWithTheCalculatorLink() async throws {
        try await Self.withAssistant { assistant in
            let answer = try await Self.ask(assistant, "Сколько стоит ОСАГО на 150 л.с. в Москве, стаж 10 лет, возраст 35, класс 13, ТБ 8665")
            let last = try #require(answer.split(separator: "\n").last.map(String.init))
            #expect(last.hasPrefix("Открыть в калькуляторе: #/insurance/osago?calc="))
            let encoded = String(last.dropFirst("Открыть в калькуляторе: #/insurance/osago?calc=".count))
            #expect(encoded.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            var base64 = encoded.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while base64.count % 4 != 0 { base64 += "=" }
            let json = try #require(Data(base64Encoded: base64))
            // The link's JSON is a valid quote request that prices the same.
            let request = try QuoteRequest.decode(json: json)
            #expect(request.territory == "moscow" && request.powerHp == 150 && request.tb == 8665)
            #expect(request.drivers == .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "13")]))
            let quote = try assistant.calculator.quote(request, today: CalendarDate("2026-03-01")!)
            #expect(quote.premium == Decimal(string: "9441.80"))
        }
    }

    @Test func knowledgeAnswersLinkTheirOfficialSources() async throws {
        try await Self.withAssistant { assistant in
            let answer = try await Self.ask(assistant, "Что такое КБМ и как его проверить?")
            let links = try #require(answer.split(separator: "\n").first { $0.hasPrefix("Ссылки: ") })
            #expect(links.contains("https://autoins.ru/"))
            #expect(try KnowledgeBase.bundledArticles().allSatisfy { !$0.links.isEmpty && $0.links.allSatisfy { $0.hasPrefix("https://") } })
            #expect(throws: KnowledgeFormatError.self) {
                try KnowledgeArticle.parse("---\nslug: x\ntitle: X\nsource: Y\nlinks: javascript:alert(1)\n---\nbody", file: "x.md")
            }
        }
    }

    @Test(arguments: ["Какая погода завтра в Сочи?", "как приготовить борщ с ананасами на марсе", "Напиши стихотворение про осень"])
    func questionsOutsideInsuranceArePolitelyRefused(question: String) async throws {
        try await Self.withAssistant { assistant in
            let answer = try await Self.ask(assistant, question)
            #expect(answer.hasPrefix("Извините, с этим вопросом я не помогу"), "\(answer)")
            #expect(answer.contains("не знаю"))
            #expect(!answer.contains("Источник"))
        }
    }

    @Test func unknownQuestionsAndIdentity() async throws {
        try await Self.withAssistant { assistant in
            let unknown = try await Self.ask(assistant, "Страхует ли ОСАГО от падения метеорита?")
            #expect(unknown.hasPrefix("Не знаю") || unknown.contains("Источник"), "\(unknown)")
            let identity = try await Self.ask(assistant, "Кто ты?")
            #expect(identity.contains("встроенный помощник ECOMANSONI"))
        }
    }
}
