import Foundation
import Insurance
import Testing

/// Every input the spec says must be refused, and the shapes around them: each refusal
/// names the offending field.
@Suite struct InvalidInputTests {
    @Test func specListOfRefusals() {
        var request = Fixtures.baseline()
        request.drivers = .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "14")])
        #expect(Fixtures.refusal(request)?.field == "drivers[0].kbmClass")

        request.drivers = .named([DriverInput(age: 15, experienceYears: 0, kbmClass: "3")])
        #expect(Fixtures.refusal(request) == QuoteInputError(field: "drivers[0].age", rule: "age under 16 is invalid"))

        request.drivers = .named([DriverInput(age: 18, experienceYears: 7, kbmClass: "3")])
        #expect(Fixtures.refusal(request)?.field == "drivers[0].experienceYears")

        request = Fixtures.baseline()
        request.periodMonths = 2
        #expect(Fixtures.refusal(request)?.field == "periodMonths")

        for power in ["0", "-1", "-150"] {
            request = Fixtures.baseline()
            request.powerHp = Fixtures.decimal(power)
            #expect(Fixtures.refusal(request)?.field == "vehicle.powerHp", "power \(power)")
        }

        for tb in ["1398.99", "8665.01", "0", "20000"] {
            request = Fixtures.baseline()
            request.tb = Fixtures.decimal(tb)
            #expect(Fixtures.refusal(request)?.field == "tb", "tb \(tb)")
        }
        // The corridor is the version's: 8000 was out before 2025-12-09 and is in after.
        request = Fixtures.baseline()
        request.tb = 8000
        request.date = CalendarDate("2025-12-08")
        #expect(Fixtures.refusal(request)?.field == "tb")

        request = Fixtures.baseline()
        request.date = CalendarDate("2022-08-31")
        #expect(Fixtures.refusal(request)?.field == "date")
    }

    @Test func refusalsOfTheFormulaVariants() {
        var request = Fixtures.baseline()
        request.territory = nil
        #expect(Fixtures.refusal(request)?.field == "territory")
        request.territory = "atlantis"
        #expect(Fixtures.refusal(request)?.field == "territory")
        request.territory = "foreign"
        #expect(Fixtures.refusal(request)?.field == "territory")

        request = Fixtures.baseline()
        request.registration = .transit
        #expect(Fixtures.refusal(request)?.field == "territory")
        request.territory = nil
        request.kt = 1
        #expect(Fixtures.refusal(request)?.field == "kt")

        request = Fixtures.baseline()
        request.registration = .foreign
        request.territory = nil
        #expect(Fixtures.refusal(request)?.field == "termMonths")
        request.termDays = 4
        #expect(Fixtures.refusal(request)?.field == "termDays")
        request.termDays = 16
        #expect(Fixtures.refusal(request)?.field == "termDays")
        request.termDays = 10
        request.termMonths = 2
        #expect(Fixtures.refusal(request)?.field == "termDays")

        request = Fixtures.baseline()
        request.termMonths = 3
        #expect(Fixtures.refusal(request)?.field == "termMonths")

        request = Fixtures.baseline()
        request.drivers = .unlimited
        #expect(Fixtures.refusal(request)?.field == "ownerKbmClass")

        request = Fixtures.baseline()
        request.category = "C"
        #expect(Fixtures.refusal(request)?.field == "vehicle.category")
        request.category = "Z"
        #expect(Fixtures.refusal(request)?.field == "vehicle.category")

        request = Fixtures.baseline()
        request.category = "A"
        request.taxi = true
        #expect(Fixtures.refusal(request)?.field == "vehicle.taxi")

        request = Fixtures.baseline()
        request.kt = 0
        #expect(Fixtures.refusal(request)?.field == "kt")

        request = Fixtures.baseline()
        request.powerHp = nil
        #expect(Fixtures.refusal(request)?.field == "vehicle.powerHp")

        request = Fixtures.baseline()
        request.category = "A"
        request.owner = .legalEntity
        request.tb = 1000
        request.trailer = true
        #expect(Fixtures.refusal(request)?.field == "trailer")
    }

    @Test(arguments: [
        (#"[]"#, "body"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":[{"age":35,"experienceYears":10,"kbmClass":"13"}],"colour":"red"}"#, "colour"),
        (#"{"vehicle":{"category":"B","powerHp":150,"wheels":4},"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "vehicle.wheels"),
        (#"{"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "vehicle"),
        (#"{"vehicle":{"powerHp":150},"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "vehicle.category"),
        (#"{"vehicle":{"category":"B","powerHp":"fast"},"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "vehicle.powerHp"),
        (#"{"vehicle":{"category":"B","powerHp":150,"registration":"mars"},"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "vehicle.registration"),
        (#"{"owner":"company","vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "owner"),
        (#"{"date":"2026-02-30","vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":"unlimited","ownerKbmClass":"3"}"#, "date"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":"everyone"}"#, "drivers"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":[]}"#, "drivers"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":[{"age":35.5,"experienceYears":10,"kbmClass":"13"}]}"#, "drivers[0].age"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":[{"age":35,"experienceYears":10,"kbmClass":"13"},{"age":30,"kbmClass":"3"}]}"#, "drivers[1].experienceYears"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","periodMonths":"12","drivers":"unlimited","ownerKbmClass":"3"}"#, "periodMonths"),
        (#"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","kn":"yes","drivers":"unlimited","ownerKbmClass":"3"}"#, "kn"),
    ])
    func malformedJSONNamesTheField(json: String, field: String) {
        #expect(Fixtures.refusal(json: json)?.field == field)
    }

    @Test func theDocumentedRequestShapeIsAccepted() throws {
        let json = #"{"date":"2026-03-01","owner":"individual","vehicle":{"category":"B","powerHp":150,"registration":"russia","taxi":false},"territory":"moscow","kt":null,"tb":8665,"periodMonths":12,"termMonths":null,"termDays":null,"drivers":[{"age":35,"experienceYears":10,"kbmClass":"13"}],"ownerKbmClass":"3","kn":false,"trailer":false}"#
        let quote = try Fixtures.calculator.quote(try QuoteRequest.decode(json: Data(json.utf8)), today: Fixtures.day)
        #expect(quote.premiumText == "9441.80")
        // Decimal strings and numeric class labels are read exactly too.
        let strings = #"{"vehicle":{"category":"B","powerHp":"150"},"territory":"moscow","tb":"8665","drivers":[{"age":35,"experienceYears":10,"kbmClass":13}]}"#
        #expect(try Fixtures.calculator.quote(try QuoteRequest.decode(json: Data(strings.utf8)), today: Fixtures.day).premiumText == "9441.80")
    }

    @Test func tooManyDriversIsRefused() {
        let driver = #"{"age":35,"experienceYears":10,"kbmClass":"13"}"#
        let json = #"{"vehicle":{"category":"B","powerHp":150},"territory":"moscow","drivers":["# + Array(repeating: driver, count: 21).joined(separator: ",") + "]}"
        #expect(Fixtures.refusal(json: json)?.field == "drivers")
    }
}
