import AsyncHTTPClient
import Foundation

@testable import Storage

/// The S3-compatible server the S3 tests talk to: `TEST_S3_ENDPOINT` (`scripts/test` starts
/// moto there), or else moto's standalone server started once per test process from the
/// project venv (`.venv/bin/moto_server`, from `Tests/e2e/requirements.txt`). A watchdog
/// shell stops that server when the test process goes away, however it ends.
actor S3Peer {
    static let shared = S3Peer()
    private var started: Task<String, any Error>?

    /// The endpoint URL, e.g. `http://127.0.0.1:41234`.
    func endpoint() async throws -> String {
        if let endpoint = ProcessInfo.processInfo.environment["TEST_S3_ENDPOINT"], !endpoint.isEmpty {
            return endpoint
        }
        if started == nil {
            started = Task { try await Self.startMoto() }
        }
        guard let started else { throw PeerError("moto did not start") }
        return try await started.value
    }

    /// A backend on a fresh bucket of its own (so tests never see each other's uploads).
    static func backend(partSize: Int = S3Settings.minimumPartSize) async throws -> S3Backend {
        let bucket = "t-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let backend = try S3Backend(settings: settings(endpoint: try await shared.endpoint(), bucket: String(bucket), partSize: partSize))
        try await backend.createBucketIfMissing()
        return backend
    }

    static func settings(endpoint: String, bucket: String, partSize: Int = S3Settings.minimumPartSize) -> S3Settings {
        S3Settings(
            endpoint: endpoint, region: "us-east-1", bucket: bucket, accessKeyID: "testing", secretAccessKey: "testing",
            partSizeBytes: partSize, requestTimeoutSeconds: 60
        )
    }

    struct PeerError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private static func startMoto() async throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venv = root.appendingPathComponent(".venv/bin")
        let moto = venv.appendingPathComponent("moto_server").path
        let python = venv.appendingPathComponent("python").path
        guard FileManager.default.isExecutableFile(atPath: moto) else {
            throw PeerError(
                "no S3 peer: set TEST_S3_ENDPOINT, or install moto into the project venv: "
                    + "python3 -m venv .venv && .venv/bin/pip install -r Tests/e2e/requirements.txt"
            )
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(getpid()).log").path
        // Picks a free loopback port, starts moto, prints the port, and kills moto once this
        // test process has ended (the shell is then re-parented; a zombie parent still
        // answers `kill -0`). SIGKILL: moto's SIGTERM handler waits for open keep-alive connections.
        let script = """
            port=$("$1" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') || exit 1
            "$2" -H 127.0.0.1 -p "$port" >"$3" 2>&1 &
            moto=$!
            echo "$port"
            while [ "$(ps -o ppid= -p $$ | tr -d ' ')" = "$4" ] && kill -0 "$moto" 2>/dev/null; do sleep 1; done
            kill -9 "$moto" 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script, "s3peer", python, moto, log, String(getpid())]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        // Not the test process's own stderr: `swift test` waits for that to close.
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = await Task.detached { () -> String in
            var bytes = [UInt8]()
            while let byte = try? output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") {
                bytes.append(byte)
            }
            return String(decoding: bytes, as: UTF8.self)
        }.value
        guard let port = Int(line.trimmingCharacters(in: .whitespaces)) else {
            throw PeerError("moto did not start (no port printed); see \(log)")
        }
        let endpoint = "http://127.0.0.1:\(port)"
        // moto takes a few seconds to import; wait until it answers.
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            var request = HTTPClientRequest(url: endpoint + "/moto-api/")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)) {
                _ = try? await response.body.collect(upTo: 1 << 20)
                return endpoint
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw PeerError("moto did not answer on \(endpoint) within 90 s; see \(log)")
    }
}
