import Foundation

/// Why the bundled tariff files could not be loaded (a packaging defect, not a client error).
public struct TariffLoadError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "tariff file \(file): \(reason)" }
}

/// Every tariff version, ordered by effective date.
///
/// Versions live in `Tariffs/<YYYY-MM-DD>.json`; a file states only the sections that
/// changed and inherits the rest from the version before it, so dropping in the full
/// official territory appendix is one `territories` section in one file.
public struct TariffCatalog: Sendable {
    public let versions: [TariffVersion]

    /// Loads the tariff files shipped with the module.
    public static func bundled() throws -> TariffCatalog {
        guard let folder = Bundle.module.url(forResource: "Tariffs", withExtension: nil) else {
            throw TariffLoadError(file: "Tariffs", reason: "resource folder missing from the bundle")
        }
        return try load(folder: folder)
    }

    /// Loads every `*.json` in `folder`.
    public static func load(folder: URL) throws -> TariffCatalog {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".json") }
            .sorted()
        let files = try names.map { name -> (String, TariffFile) in
            do {
                return (name, try JSONDecoder().decode(TariffFile.self, from: Data(contentsOf: folder.appendingPathComponent(name))))
            } catch {
                throw TariffLoadError(file: name, reason: "\(error)")
            }
        }
        return try TariffCatalog(files: files)
    }

    init(files: [(name: String, file: TariffFile)]) throws {
        var versions: [TariffVersion] = []
        for (name, file) in files {
            guard let date = CalendarDate(file.version), name == "\(file.version).json" else {
                throw TariffLoadError(file: name, reason: "version must be the file's effective date (YYYY-MM-DD)")
            }
            let previous = versions.last
            func section<T>(_ own: T?, _ inherited: T?, _ key: String) throws -> T {
                guard let value = own ?? inherited else {
                    throw TariffLoadError(file: name, reason: "section \(key) missing and nothing to inherit")
                }
                return value
            }
            let version = TariffVersion(
                effectiveFrom: date,
                legalBasis: try section(file.legalBasis, previous?.legalBasis, "legalBasis"),
                baseRates: try section(file.baseRates, previous?.baseRates, "baseRates"),
                territories: try section(file.territories, previous?.territories, "territories"),
                kbm: try section(file.kbm, previous?.kbm, "kbm"),
                kvs: try section(file.kvs, previous?.kvs, "kvs"),
                km: try section(file.km, previous?.km, "km"),
                ks: try section(file.ks, previous?.ks, "ks"),
                kp: try section(file.kp, previous?.kp, "kp"),
                ko: try section(file.ko, previous?.ko, "ko"),
                kn: try section(file.kn, previous?.kn, "kn"),
                kpr: try section(file.kpr, previous?.kpr, "kpr"),
                cap: try section(file.cap, previous?.cap, "cap"))
            try Self.check(version, file: name)
            versions.append(version)
        }
        guard !versions.isEmpty else { throw TariffLoadError(file: "Tariffs", reason: "no tariff files") }
        self.versions = versions
    }

    /// The version in force on `date`, or nil before the earliest one.
    public func version(on date: CalendarDate) -> TariffVersion? {
        versions.last { $0.effectiveFrom <= date }
    }

    /// The latest version.
    public var latest: TariffVersion { versions[versions.count - 1] }

    /// Structural checks that keep a malformed drop-in file from producing wrong premiums.
    private static func check(_ version: TariffVersion, file: String) throws {
        let classes = version.kbm.classes.map(\.class)
        guard Set(classes).count == classes.count, classes.contains(version.kbm.startClass) else {
            throw TariffLoadError(file: file, reason: "kbm classes must be unique and include the start class")
        }
        for label in classes {
            guard let row = version.kbm.transitions[label], row.count == 5, row.allSatisfy(classes.contains) else {
                throw TariffLoadError(file: file, reason: "kbm transition row for class \(label) must list 5 known classes")
            }
        }
        guard version.kvs.values.count == version.kvs.ageBands.count,
            version.kvs.values.allSatisfy({ $0.count == version.kvs.experienceBands.count })
        else {
            throw TariffLoadError(file: file, reason: "kvs values must have one row per age band and one cell per experience band")
        }
        let codes = version.territories.map(\.code)
        guard Set(codes).count == codes.count else {
            throw TariffLoadError(file: file, reason: "territory codes must be unique")
        }
        guard version.km.bands.last?.upToHp == nil else {
            throw TariffLoadError(file: file, reason: "the last km band must be open-ended")
        }
        for row in version.baseRates where row.min.value > row.max.value {
            throw TariffLoadError(file: file, reason: "base-rate corridor \(row.label) has min above max")
        }
    }
}
