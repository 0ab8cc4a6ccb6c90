import Foundation
@testable import InsuranceService
import Testing

/// What the built-in assistant reads out of Russian premium questions.
@Suite struct PremiumQuestionParserTests {
    @Test func theIssuesExampleQuestion() {
        let question = PremiumQuestionParser.parse("Сколько стоит ОСАГО на 150 л.с. в Москве, стаж 10 лет, возраст 35")
        #expect(question.powerHp == 150)
        #expect(question.territory == "moscow")
        #expect(question.experienceYears == 10)
        #expect(question.age == 35)
        #expect(question.missing.isEmpty)
        #expect(PremiumQuestionParser.asksForPrice("Сколько стоит ОСАГО на 150 л.с. в Москве"))
    }

    @Test(arguments: [
        ("почём осаго для машины 249 лошадиных сил в Санкт-Петербурге", "saint_petersburg", "249"),
        ("рассчитайте полис: мощность 98,5 л. с., Московская область", "moscow_oblast", "98.5"),
        ("цена ОСАГО в Питере, 110 лс", "saint_petersburg", "110"),
        ("стоимость полиса в Казани, двигатель 75 hp", "kazan", "75"),
        ("посчитай осаго нижний новгород 140 л.с.", "nizhny_novgorod", "140"),
        ("сколько стоит страховка в Уфе на 90 л.с.", "ufa", "90"),
        ("прописка в Подмосковье, 100 л.с.", "moscow_oblast", "100"),
        ("живу в Ленинградской области, мощность 120", "leningrad_oblast", "120"),
        ("Ростов-на-Дону, 200 л.с.", "rostov_on_don", "200"),
    ])
    func territoriesAndPower(text: String, territory: String, power: String) {
        let question = PremiumQuestionParser.parse(text)
        #expect(question.territory == territory)
        #expect(question.powerHp == Decimal(string: power))
    }

    @Test(arguments: [
        ("мне 42 года, стаж 20 лет", 42, 20),
        ("возраст: 19, водительский стаж 1 год", 19, 1),
        ("Возраст водителя 64, 30 лет стажа", 64, 30),
        ("мне 18 лет, без стажа", 18, 0),
    ])
    func ageAndExperience(text: String, age: Int, experience: Int) {
        let question = PremiumQuestionParser.parse(text)
        #expect(question.age == age)
        #expect(question.experienceYears == experience)
    }

    @Test func classMonthsBaseRateAndDrivers() {
        let question = PremiumQuestionParser.parse("класс КБМ 13, на 6 месяцев, ТБ 5000, без ограничения водителей, такси")
        #expect(question.kbmClass == "13")
        #expect(question.months == 6)
        #expect(question.tb == 5000)
        #expect(question.unlimited)
        #expect(question.taxi)
        #expect(PremiumQuestionParser.parse("класс М").kbmClass == "M")
        #expect(question.missing == ["мощность двигателя (л.с.)", "город или регион регистрации собственника"])
    }

    @Test(arguments: ["Что делать после ДТП?", "Какие документы нужны для ОСАГО?", "Что такое КБМ?", "Как оформить электронный полис?"])
    func knowledgeQuestionsAreNotPriceQuestions(text: String) {
        #expect(!PremiumQuestionParser.asksForPrice(text))
        #expect(!PremiumQuestionParser.parse(text).hasAnyParameter)
    }

    @Test func laterTurnsOverrideEarlierOnes() {
        var gathered = PremiumQuestion()
        gathered.merge(PremiumQuestionParser.parse("150 л.с. в Москве, возраст 35, стаж 10"))
        gathered.merge(PremiumQuestionParser.parse("нет, в Казани и стаж 12"))
        #expect(gathered.territory == "kazan")
        #expect(gathered.experienceYears == 12)
        #expect(gathered.powerHp == 150)
    }

    @Test func russianMoney() {
        #expect(RussianText.money(Decimal(string: "9441.8")!) == "9 441,80 ₽")
        #expect(RussianText.money(Decimal(string: "499.95")!) == "499,95 ₽")
        #expect(RussianText.money(Decimal(string: "1234567.005")!) == "1 234 567,01 ₽")
        #expect(RussianText.roubles(8665) == "8 665")
    }
}
