import Foundation

/// Computes OSAGO premiums from a `TariffCatalog` exactly as the Bank of Russia's formula
/// says: exact decimals, one rounding to kopecks at the end, the 3×/5× cap.
public struct OsagoCalculator: Sendable {
    /// Every vehicle category the data model knows; corridors exist only for some of them.
    public static let knownCategories: Set<String> = ["A", "M", "B", "BE", "C", "CE", "D", "DE", "Tb", "Tm", "tractor"]
    /// Sanity bounds on what a client may send.
    static let maximumPowerHp: Decimal = 3000
    static let maximumExplicitKT: Decimal = 10
    static let maximumAge = 110

    public let catalog: TariffCatalog

    public init(catalog: TariffCatalog) {
        self.catalog = catalog
    }

    /// Quotes `request`; a request without a date is priced on `today`.
    public func quote(_ request: QuoteRequest, today: CalendarDate) throws(QuoteInputError) -> OsagoQuote {
        let date = request.date ?? today
        guard let tariff = catalog.version(on: date) else {
            throw QuoteInputError(field: "date", rule: "is before the earliest tariff version (\(catalog.versions[0].name))")
        }
        let factors = try QuoteFactors(request: request, tariff: tariff)
        var quote = OsagoQuote(
            tariffVersion: tariff.name, premium: nil, uncapped: nil, capped: nil, cap: nil,
            coefficients: factors.coefficients, range: nil, breakdown: factors.breakdown,
            driver: factors.chosenDriver, forecast: factors.forecast)
        if let tb = request.tb {
            let priced = factors.price(tb: tb)
            quote.premium = priced.premium
            quote.uncapped = priced.uncapped
            quote.capped = priced.capped
            quote.cap = priced.cap
            quote.coefficients[.tb] = tb
        } else {
            let low = factors.price(tb: factors.corridor.min.value)
            let high = factors.price(tb: factors.corridor.max.value)
            quote.range = OsagoQuote.PremiumRange(
                min: low.premium, max: high.premium, tbMin: factors.corridor.min.value, tbMax: factors.corridor.max.value,
                minCapped: low.capped, maxCapped: high.capped)
            let typicalTB = factors.corridor.typical
            let typical = factors.price(tb: typicalTB)
            quote.typical = OsagoQuote.TypicalPrice(tb: typicalTB, premium: typical.premium, capped: typical.capped)
        }
        return quote
    }
}

/// Every coefficient of one request resolved against one tariff version, before ТБ.
struct QuoteFactors {
    let corridor: BaseRateRow
    var coefficients: [Coefficient: Decimal] = [:]
    var breakdown: [BreakdownLine] = []
    var chosenDriver: OsagoQuote.ChosenDriver?
    var forecast: KBMForecast
    /// КТ for the cap (1 for transit, which has no КТ).
    let capKT: Decimal
    let capMultiplier: Decimal
    /// The product of every coefficient except ТБ.
    let product: Decimal

    init(request: QuoteRequest, tariff: TariffVersion) throws(QuoteInputError) {
        corridor = try Self.corridor(request, tariff)
        if let tb = request.tb {
            guard tb > 0, tb >= corridor.min.value, tb <= corridor.max.value else {
                throw QuoteInputError(
                    field: "tb",
                    rule: "must be inside the base-rate corridor \(DecimalText.plain(corridor.min.value))–\(DecimalText.plain(corridor.max.value)) (\(corridor.label)) of tariff version \(tariff.name)")
            }
        }
        var lines: [BreakdownLine] = [BreakdownLine(
            coefficient: .tb, value: request.tb,
            reason: request.tb == nil
                ? "не задан: считаем по границам коридора \(DecimalText.plain(corridor.min.value))–\(DecimalText.plain(corridor.max.value)) ₽ (\(corridor.label))"
                : "базовая ставка страховщика; коридор \(DecimalText.plain(corridor.min.value))–\(DecimalText.plain(corridor.max.value)) ₽ (\(corridor.label))",
            confidence: corridor.confidence)]

        let kt = try Self.territorial(request, tariff)
        lines.append(kt)
        let drivers = try Self.drivers(request, tariff)
        lines.append(contentsOf: drivers.lines)
        let km = try Self.power(request, tariff)
        lines.append(km)
        let term = try Self.term(request, tariff)
        lines.append(contentsOf: term)
        let kn = request.kn
            ? BreakdownLine(coefficient: .kn, value: tariff.kn.value.value, reason: "страховщик выявил грубые нарушения условий страхования", confidence: tariff.kn.confidence)
            : BreakdownLine(coefficient: .kn, value: 1, reason: "нарушений условий страхования нет", confidence: nil)
        lines.append(kn)
        lines.append(try Self.trailer(request, tariff))

        breakdown = lines
        for line in lines { coefficients[line.coefficient] = line.value }
        product = lines.filter { $0.coefficient != .tb }.reduce(Decimal(1)) { $0 * ($1.value ?? 1) }
        chosenDriver = drivers.chosen
        forecast = drivers.forecast
        capKT = kt.value ?? 1
        let raising = drivers.kbm > 1 || request.kn
        capMultiplier = raising ? tariff.cap.raisedMultiplier.value : tariff.cap.multiplier.value
    }

    /// The premium at base rate `tb`, capped and rounded once.
    func price(tb: Decimal) -> (premium: Decimal, uncapped: Decimal, capped: Bool, cap: OsagoQuote.Cap) {
        let uncapped = tb * product
        let capAmount = capMultiplier * tb * capKT
        let capped = uncapped > capAmount
        let cap = OsagoQuote.Cap(multiplier: NSDecimalNumber(decimal: capMultiplier).intValue, amount: capAmount)
        return (DecimalText.rounded(capped ? capAmount : uncapped), DecimalText.rounded(uncapped), capped, cap)
    }

    // MARK: - Coefficients

    private static func corridor(_ request: QuoteRequest, _ tariff: TariffVersion) throws(QuoteInputError) -> BaseRateRow {
        guard OsagoCalculator.knownCategories.contains(request.category) else {
            throw QuoteInputError(
                field: "vehicle.category",
                rule: "unknown category \"\(request.category)\"; one of " + OsagoCalculator.knownCategories.sorted().joined(separator: ", "))
        }
        let rows = tariff.baseRates.filter { $0.categories.contains(request.category) && ($0.owner == nil || $0.owner == request.owner) }
        if request.taxi, !rows.contains(where: \.taxi) {
            throw QuoteInputError(field: "vehicle.taxi", rule: "taxi use applies to cars (B, BE) only")
        }
        guard let row = rows.first(where: { $0.taxi == request.taxi }) else {
            throw QuoteInputError(
                field: "vehicle.category",
                rule: "tariff version \(tariff.name) has no base-rate corridor for category \(request.category) (\(request.owner.rawValue))")
        }
        return row
    }

    private static func territorial(_ request: QuoteRequest, _ tariff: TariffVersion) throws(QuoteInputError) -> BreakdownLine {
        if request.registration == .transit {
            if request.kt != nil { throw QuoteInputError(field: "kt", rule: "a transit policy has no КТ; leave it empty") }
            if request.territory != nil { throw QuoteInputError(field: "territory", rule: "a transit policy has no territory; leave it empty") }
            return BreakdownLine(coefficient: .kt, value: nil, reason: "не применяется: следование к месту регистрации", confidence: nil)
        }
        if let kt = request.kt {
            guard kt > 0, kt <= OsagoCalculator.maximumExplicitKT else {
                throw QuoteInputError(field: "kt", rule: "must be greater than 0 and at most \(OsagoCalculator.maximumExplicitKT)")
            }
            return BreakdownLine(coefficient: .kt, value: kt, reason: "задан явно", confidence: nil)
        }
        let code: String
        switch request.registration {
        case .foreign:
            guard request.territory == nil || request.territory == "foreign" else {
                throw QuoteInputError(field: "territory", rule: "a vehicle registered abroad uses the territory \"foreign\"")
            }
            code = "foreign"
        default:
            guard let territory = request.territory else {
                throw QuoteInputError(field: "territory", rule: "is required unless kt is given")
            }
            guard territory != "foreign" else {
                throw QuoteInputError(field: "territory", rule: "\"foreign\" is for vehicles registered abroad (vehicle.registration \"foreign\")")
            }
            code = territory
        }
        guard let row = tariff.territory(code: code) else {
            throw QuoteInputError(field: "territory", rule: "unknown territory code \"\(code)\" in tariff version \(tariff.name)")
        }
        let correction = row.correction?.value ?? 1
        return BreakdownLine(
            coefficient: .kt, value: row.kt,
            reason: "\(row.name): базовый \(DecimalText.plain(row.baseKt.value)) × корректирующий \(DecimalText.plain(correction))",
            confidence: row.confidence)
    }

    private struct DriverFactors {
        var lines: [BreakdownLine]
        var kbm: Decimal
        var chosen: OsagoQuote.ChosenDriver?
        var forecast: KBMForecast
    }

    private static func drivers(_ request: QuoteRequest, _ tariff: TariffVersion) throws(QuoteInputError) -> DriverFactors {
        if let label = request.ownerKbmClass {
            // Checked even when a driver list makes it unused: a wrong class is never ignored.
            _ = try kbmValue(label, tariff, field: "ownerKbmClass")
        }
        switch request.drivers {
        case .unlimited:
            guard let label = request.ownerKbmClass else {
                throw QuoteInputError(field: "ownerKbmClass", rule: "is required when drivers is \"unlimited\" (the owner's class sets КБМ)")
            }
            let kbm = try kbmValue(label, tariff, field: "ownerKbmClass")
            guard let ko = tariff.ko.unlimited[request.owner.rawValue] else {
                throw QuoteInputError(field: "drivers", rule: "tariff version \(tariff.name) has no КО for unlimited drivers of a \(request.owner.rawValue)")
            }
            let ownerName = request.owner == .individual ? "физическое лицо" : "юридическое лицо"
            return DriverFactors(
                lines: [
                    BreakdownLine(coefficient: .kbm, value: kbm, reason: "класс собственника \(label) (без ограничения списка водителей)", confidence: tariff.kbm.confidence),
                    BreakdownLine(coefficient: .kvs, value: 1, reason: "без ограничения списка водителей КВС = 1", confidence: tariff.kvs.confidence),
                    BreakdownLine(coefficient: .ko, value: ko.value.value, reason: "без ограничения списка водителей, собственник — \(ownerName)", confidence: ko.confidence),
                ],
                kbm: kbm, chosen: nil, forecast: try forecast(label, tariff, field: "ownerKbmClass"))
        case .named(let drivers):
            var best: (index: Int, kbm: Decimal, kvs: Decimal, reason: String)?
            for (index, driver) in drivers.enumerated() {
                let kbm = try kbmValue(driver.kbmClass, tariff, field: "drivers[\(index)].kbmClass")
                let (kvs, reason) = try kvsValue(driver, tariff, path: "drivers[\(index)]")
                if best.map({ kbm * kvs > $0.kbm * $0.kvs }) ?? true {
                    best = (index, kbm, kvs, reason)
                }
            }
            // The JSON reader refuses an empty list; a request built in code gets the same answer.
            guard let chosen = best else {
                throw QuoteInputError(field: "drivers", rule: #"must list at least one driver, or be "unlimited""#)
            }
            let driver = drivers[chosen.index]
            let which = drivers.count > 1
                ? "водитель №\(chosen.index + 1) с наибольшим КБМ × КВС из \(drivers.count)"
                : "водитель"
            return DriverFactors(
                lines: [
                    BreakdownLine(coefficient: .kbm, value: chosen.kbm, reason: "\(which): класс \(driver.kbmClass)", confidence: tariff.kbm.confidence),
                    BreakdownLine(coefficient: .kvs, value: chosen.kvs, reason: "\(which): \(chosen.reason)", confidence: tariff.kvs.confidence),
                    BreakdownLine(coefficient: .ko, value: tariff.ko.namedDrivers.value, reason: "список водителей ограничен", confidence: .verifiedTwice),
                ],
                kbm: chosen.kbm,
                chosen: OsagoQuote.ChosenDriver(index: chosen.index, age: driver.age, experienceYears: driver.experienceYears, kbmClass: driver.kbmClass),
                forecast: try forecast(driver.kbmClass, tariff, field: "drivers[\(chosen.index)].kbmClass"))
        }
    }

    private static func kbmValue(_ label: String, _ tariff: TariffVersion, field: String) throws(QuoteInputError) -> Decimal {
        guard let value = tariff.kbmValue(ofClass: label) else {
            let labels = tariff.kbmClassLabels
            let range = labels.count > 2 ? "\(labels[0]), \(labels[1])–\(labels[labels.count - 1])" : labels.joined(separator: ", ")
            throw QuoteInputError(field: field, rule: "unknown КБМ class \"\(label)\"; classes are \(range)")
        }
        return value
    }

    /// The КБМ forecast of a class already checked by ``kbmValue(_:_:field:)`` (so never nil
    /// in practice; still an input error rather than a trap if the tariff data disagreed).
    private static func forecast(_ label: String, _ tariff: TariffVersion, field: String) throws(QuoteInputError) -> KBMForecast {
        guard let forecast = tariff.kbmForecast(from: label) else {
            throw QuoteInputError(field: field, rule: "unknown КБМ class \"\(label)\"")
        }
        return forecast
    }

    private static func kvsValue(_ driver: DriverInput, _ tariff: TariffVersion, path: String) throws(QuoteInputError) -> (Decimal, String) {
        guard driver.age >= 16 else { throw QuoteInputError(field: "\(path).age", rule: "age under 16 is invalid") }
        guard driver.age <= OsagoCalculator.maximumAge else {
            throw QuoteInputError(field: "\(path).age", rule: "must be at most \(OsagoCalculator.maximumAge)")
        }
        guard driver.experienceYears >= 0 else {
            throw QuoteInputError(field: "\(path).experienceYears", rule: "must not be negative")
        }
        guard driver.experienceYears <= driver.age - 16 else {
            throw QuoteInputError(
                field: "\(path).experienceYears",
                rule: "experience cannot exceed age − 16 (\(driver.age - 16) for age \(driver.age))")
        }
        let table = tariff.kvs
        guard let row = table.ageBands.firstIndex(where: { $0.contains(driver.age) }),
            let column = table.experienceBands.firstIndex(where: { $0.contains(driver.experienceYears) })
        else {
            throw QuoteInputError(field: "\(path).age", rule: "no КВС row for age \(driver.age)")
        }
        guard let value = table.values[row][column] else {
            throw QuoteInputError(
                field: "\(path).experienceYears",
                rule: "impossible combination: \(table.experienceBands[column].label) years of experience at age \(table.ageBands[row].label)")
        }
        return (value.value, "возраст \(table.ageBands[row].label), стаж \(table.experienceBands[column].label)")
    }

    private static func power(_ request: QuoteRequest, _ tariff: TariffVersion) throws(QuoteInputError) -> BreakdownLine {
        if let power = request.powerHp {
            guard power > 0 else { throw QuoteInputError(field: "vehicle.powerHp", rule: "must be greater than 0") }
            guard power <= OsagoCalculator.maximumPowerHp else {
                throw QuoteInputError(field: "vehicle.powerHp", rule: "must be at most \(OsagoCalculator.maximumPowerHp)")
            }
        }
        let table = tariff.km
        guard table.categories.contains(request.category) else {
            return BreakdownLine(coefficient: .km, value: 1, reason: "категория \(request.category): КМ не применяется", confidence: table.confidence)
        }
        guard let power = request.powerHp else {
            throw QuoteInputError(field: "vehicle.powerHp", rule: "is required for category \(request.category)")
        }
        var lower: Decimal?
        for band in table.bands {
            if let upper = band.upToHp?.value, power > upper {
                lower = upper
                continue
            }
            let range: String
            switch (lower, band.upToHp?.value) {
            case (nil, let upper?): range = "до \(DecimalText.plain(upper)) л.с. включительно"
            case (let low?, let upper?): range = "свыше \(DecimalText.plain(low)) до \(DecimalText.plain(upper)) л.с. включительно"
            case (let low?, nil): range = "свыше \(DecimalText.plain(low)) л.с."
            case (nil, nil): range = "любая мощность"
            }
            return BreakdownLine(coefficient: .km, value: band.value.value, reason: "мощность \(DecimalText.plain(power)) л.с.: \(range)", confidence: table.confidence)
        }
        throw QuoteInputError(field: "vehicle.powerHp", rule: "no КМ band")
    }

    private static func term(_ request: QuoteRequest, _ tariff: TariffVersion) throws(QuoteInputError) -> [BreakdownLine] {
        switch request.registration {
        case .russia:
            if request.termMonths != nil { throw QuoteInputError(field: "termMonths", rule: "applies to vehicles registered abroad only; use periodMonths") }
            if request.termDays != nil { throw QuoteInputError(field: "termDays", rule: "applies to vehicles registered abroad only; use periodMonths") }
            let months = request.periodMonths ?? 12
            let minimum = tariff.ks.minimumMonths[request.owner.rawValue] ?? 3
            guard months >= minimum, months <= 12 else {
                let owner = request.owner == .individual ? "an individual" : "a legal entity"
                throw QuoteInputError(field: "periodMonths", rule: "must be from \(minimum) to 12 months for \(owner)")
            }
            let row = tariff.ks.rows.last { $0.fromMonths <= months }!
            let reason = request.periodMonths == nil ? "период использования 12 месяцев (по умолчанию)" : "период использования \(months) мес."
            return [
                BreakdownLine(coefficient: .ks, value: row.value.value, reason: reason, confidence: tariff.ks.confidence),
                BreakdownLine(coefficient: .kp, value: nil, reason: "не применяется: ТС зарегистрировано в России", confidence: nil),
            ]
        case .foreign:
            if request.periodMonths != nil { throw QuoteInputError(field: "periodMonths", rule: "a vehicle registered abroad is priced by term; use termMonths or termDays") }
            let kp: BreakdownLine
            switch (request.termMonths, request.termDays) {
            case (nil, nil):
                throw QuoteInputError(field: "termMonths", rule: "a vehicle registered abroad needs termMonths or termDays")
            case (.some, .some):
                throw QuoteInputError(field: "termDays", rule: "give termMonths or termDays, not both")
            case (nil, let days?):
                let row = tariff.kp.days
                guard days >= row.fromDays, days <= row.toDays else {
                    throw QuoteInputError(field: "termDays", rule: "must be from \(row.fromDays) to \(row.toDays) days; longer terms are given in termMonths")
                }
                kp = BreakdownLine(coefficient: .kp, value: row.value.value, reason: "срок страхования \(days) дн. (\(row.fromDays)–\(row.toDays) дней)", confidence: tariff.kp.confidence)
            case (let months?, nil):
                guard months >= 1, months <= 12 else { throw QuoteInputError(field: "termMonths", rule: "must be from 1 to 12") }
                let row = tariff.kp.months.last { $0.fromMonths <= months }!
                kp = BreakdownLine(coefficient: .kp, value: row.value.value, reason: "срок страхования \(months) мес.", confidence: tariff.kp.confidence)
            }
            return [BreakdownLine(coefficient: .ks, value: nil, reason: "не применяется: вместо КС — КП", confidence: nil), kp]
        case .transit:
            for (value, field) in [(request.periodMonths, "periodMonths"), (request.termMonths, "termMonths"), (request.termDays, "termDays")] where value != nil {
                throw QuoteInputError(field: field, rule: "a transit policy has a fixed term; leave it empty")
            }
            return [
                BreakdownLine(coefficient: .ks, value: nil, reason: "не применяется: следование к месту регистрации", confidence: nil),
                BreakdownLine(coefficient: .kp, value: tariff.kp.transit.value, reason: "следование к месту регистрации", confidence: tariff.kp.transitConfidence),
            ]
        }
    }

    private static func trailer(_ request: QuoteRequest, _ tariff: TariffVersion) throws(QuoteInputError) -> BreakdownLine {
        guard request.trailer else {
            return BreakdownLine(coefficient: .kpr, value: 1, reason: "без прицепа", confidence: nil)
        }
        guard let row = tariff.kpr.first(where: { $0.owner == request.owner && ($0.categories?.contains(request.category) ?? true) }) else {
            throw QuoteInputError(
                field: "trailer",
                rule: "tariff version \(tariff.name) has no КПр for category \(request.category) owned by a \(request.owner.rawValue)")
        }
        let owner = request.owner == .individual ? "физического лица" : "юридического лица"
        return BreakdownLine(coefficient: .kpr, value: row.value.value, reason: "прицеп к ТС \(owner)", confidence: row.confidence)
    }
}
