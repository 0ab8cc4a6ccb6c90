// swift-tools-version: 6.2
// libFuzzer targets for every decoder of client bytes (docs/fuzzing.md). A package of its
// own so the main package's normal build never compiles fuzz code; build and run it with
// scripts/fuzz (sanitizer flags: -sanitize=fuzzer,address -parse-as-library).
import PackageDescription

let package = Package(
    name: "EcomansoniFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Ecomansoni", path: ".."),
    ],
    targets: [
        // What each fuzz target does with its bytes; the same file runs the corpus replay in
        // the main package's FuzzCorpusTests (symlinked there).
        .target(
            name: "FuzzHarness",
            dependencies: [.product(name: "EcomansoniDecoders", package: "Ecomansoni")]
        ),
        // libFuzzer's driver entry, declared for Swift.
        .target(name: "CFuzzerDriver"),
        // One libFuzzer binary; FUZZ_TARGET picks the decoder.
        .executableTarget(name: "fuzz-decoders", dependencies: ["FuzzHarness", "CFuzzerDriver"]),
    ]
)
