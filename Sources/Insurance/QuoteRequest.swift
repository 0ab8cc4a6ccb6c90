import Foundation

/// Who owns the vehicle.
public enum OwnerKind: String, Sendable, Codable, Hashable, CaseIterable {
    case individual
    case legalEntity = "legal_entity"
}

/// Where the vehicle is registered, which picks the formula variant.
public enum Registration: String, Sendable, Codable, Hashable, CaseIterable {
    case russia
    case foreign
    case transit
}

/// One named driver.
public struct DriverInput: Sendable, Hashable {
    public var age: Int
    public var experienceYears: Int
    public var kbmClass: String

    public init(age: Int, experienceYears: Int, kbmClass: String) {
        self.age = age
        self.experienceYears = experienceYears
        self.kbmClass = kbmClass
    }
}

/// Who may drive: a list of named drivers or anyone.
public enum DriversInput: Sendable, Hashable {
    case named([DriverInput])
    case unlimited
}

/// A premium question, as the CLI, the HTTP function and the assistant ask it.
public struct QuoteRequest: Sendable, Hashable {
    /// Policy start; nil means today.
    public var date: CalendarDate?
    public var owner: OwnerKind
    public var category: String
    public var powerHp: Decimal?
    public var registration: Registration
    public var taxi: Bool
    /// Territory code (see `TariffVersion.territories`).
    public var territory: String?
    /// An explicit КТ that overrides the territory lookup.
    public var kt: Decimal?
    /// The insurer's base rate; nil asks for the corridor range.
    public var tb: Decimal?
    /// Months of use (КС), Russian registration only; nil means 12.
    public var periodMonths: Int?
    /// Term of a foreign-registered vehicle's policy (КП): months or days.
    public var termMonths: Int?
    public var termDays: Int?
    public var drivers: DriversInput
    /// The owner's class, used with unlimited drivers.
    public var ownerKbmClass: String?
    /// КН: the insurer found grave breaches.
    public var kn: Bool
    public var trailer: Bool

    public init(
        date: CalendarDate? = nil, owner: OwnerKind = .individual, category: String = "B", powerHp: Decimal?,
        registration: Registration = .russia, taxi: Bool = false, territory: String? = nil, kt: Decimal? = nil,
        tb: Decimal? = nil, periodMonths: Int? = nil, termMonths: Int? = nil, termDays: Int? = nil,
        drivers: DriversInput, ownerKbmClass: String? = nil, kn: Bool = false, trailer: Bool = false
    ) {
        self.date = date
        self.owner = owner
        self.category = category
        self.powerHp = powerHp
        self.registration = registration
        self.taxi = taxi
        self.territory = territory
        self.kt = kt
        self.tb = tb
        self.periodMonths = periodMonths
        self.termMonths = termMonths
        self.termDays = termDays
        self.drivers = drivers
        self.ownerKbmClass = ownerKbmClass
        self.kn = kn
        self.trailer = trailer
    }
}
