import CFuzzerDriver
import Foundation
import FuzzHarness

/// The decoder this process fuzzes, from `FUZZ_TARGET` (see `FuzzTarget`); read once.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("FUZZ_TARGET must be one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget.run(data.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

/// The process entry. SwiftPM links an executable target's `main` to `<module>_main` (so
/// that tests can import executables), which replaces libFuzzer's own `main`; this starts
/// libFuzzer's driver instead. The module is built with -parse-as-library, so Swift emits no
/// `main` of its own.
@_cdecl("fuzz_decoders_main")
public func fuzzDecodersMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
