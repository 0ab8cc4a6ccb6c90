import Core
import Crypto
import Foundation
import Testing

@testable import Storage

/// SigV4 against the examples published in the S3 API reference ("Signature Calculations for
/// the Authorization Header: Transferring Payload in a Single Chunk" and "Authenticating
/// Requests: Using Query Parameters"): examplebucket, us-east-1, 2013-05-24T00:00:00Z.
@Suite struct SigV4SignerTests {
    static let signer = SigV4Signer(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1"
    )
    /// 20130524T000000Z
    static let date = Date(timeIntervalSince1970: 1_369_353_600)
    static let host = "examplebucket.s3.amazonaws.com"

    @Test func getObjectWithRange() {
        let canonical = Self.signer.canonicalRequest(
            method: "GET", path: "/test.txt", query: [],
            headers: [
                ("Host", Self.host), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z"),
            ],
            payloadHash: SigV4Signer.emptyPayloadHash
        )
        #expect(canonical.text == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(Self.signer.stringToSign(canonicalRequest: canonical.text, time: SigV4Time(Self.date)) == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)

        let signed = Self.signer.sign(
            method: "GET", path: "/test.txt", headers: [("Host", Self.host), ("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date
        )
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(signed.amzDate == "20130524T000000Z")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    /// Key `test$file.text`: `$` is encoded in the path; the body is "Welcome to Amazon S3.".
    @Test func putObject() {
        #expect(SigV4Signer.encodePath("test$file.text") == "/test%24file.text")
        let signed = Self.signer.sign(
            method: "PUT", path: SigV4Signer.encodePath("test$file.text"),
            headers: [
                ("Host", Self.host), ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", date: Self.date
        )
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
        #expect(signed.authorization.contains("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"))
    }

    /// `GET ?lifecycle`: a parameter without a value is signed as `lifecycle=`.
    @Test func getBucketLifecycle() {
        let signed = Self.signer.sign(
            method: "GET", path: "/", query: [("lifecycle", "")], headers: [("Host", Self.host)],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date
        )
        #expect(signed.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    /// `GET ?max-keys=2&prefix=J`, the parameters given out of order.
    @Test func listObjects() {
        let signed = Self.signer.sign(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [("Host", Self.host)],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date
        )
        #expect(signed.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func presignedGet() {
        let query = Self.signer.presignedQuery(method: "GET", path: "/test.txt", host: Self.host, expires: 86_400, date: Self.date)
        #expect(
            query
                == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
    }

    @Test func signingKeyAndScope() {
        let time = SigV4Time(Self.date)
        #expect(time.dateStamp == "20130524")
        #expect(Self.signer.scope(time) == "20130524/us-east-1/s3/aws4_request")
        #expect(SigV4Time(Date(timeIntervalSince1970: 951_782_400 + 86_399)).dateTime == "20000229T235959Z")
        #expect(SigV4Time(Date(timeIntervalSince1970: 0)).dateTime == "19700101T000000Z")
        #expect(SigV4Time(Date(timeIntervalSince1970: 4_102_444_800)).dateTime == "21000101T000000Z")
    }

    @Test func encodingFollowsS3Rules() {
        #expect(SigV4Signer.uriEncode("a b+c/d~e_f.g-h") == "a%20b%2Bc%2Fd~e_f.g-h")
        #expect(SigV4Signer.uriEncode("a b/c", keepSlash: true) == "a%20b/c")
        #expect(SigV4Signer.encodePath("bucket", "dir/été ✓/x*y'z(1)") == "/bucket/dir/%C3%A9t%C3%A9%20%E2%9C%93/x%2Ay%27z%281%29")
        #expect(SigV4Signer.canonicalQuery([("uploadId", "a/b=c"), ("partNumber", "2")]) == "partNumber=2&uploadId=a%2Fb%3Dc")
        #expect(SigV4Signer.canonicalHeaderValue("  a   b  c ") == "a b c")
    }

    /// `UNSIGNED-PAYLOAD` is what is signed and sent as `x-amz-content-sha256`.
    @Test func unsignedPayload() {
        let signed = Self.signer.sign(
            method: "GET", path: "/test.txt", headers: [("Host", Self.host), ("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.unsignedPayload, date: Self.date
        )
        #expect(signed.contentSHA256 == "UNSIGNED-PAYLOAD")
        #expect(signed.signature != "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let canonical = Self.signer.canonicalRequest(
            method: "GET", path: "/test.txt", query: [], headers: [("host", Self.host)], payloadHash: SigV4Signer.unsignedPayload
        )
        #expect(canonical.text.hasSuffix("\nhost\nUNSIGNED-PAYLOAD"))
    }

    // MARK: - Cross-check with botocore

    static let venvPython = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".venv/bin/python").path

    /// moto does not verify signatures, so awkward keys and query values are checked against
    /// botocore's signer (installed in the project venv with moto), which re-derives the
    /// canonical request from the URL on its own.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: venvPython)), arguments: [
        ("PUT", "ü x/a+b", [("partNumber", "1"), ("uploadId", "a/b=c+d e")], "hello"),
        ("GET", "日本語/✓ emoji 🎉.bin", [], ""),
        ("POST", "percent%20literal/q?x=1#frag", [("uploads", "")], ""),
        ("DELETE", "quotes/'single' \"double\" (paren) * ! ~ ; , @ $ &=", [("uploadId", "~x_y.z-")], ""),
    ])
    func matchesBotocore(method: String, key: String, query: [(String, String)], body: String) throws {
        let signer = SigV4Signer(accessKeyID: "AKID", secretAccessKey: "SECRET/KEY+", region: "eu-west-1")
        let path = SigV4Signer.encodePath("bkt", key)
        let date = Date(timeIntervalSince1970: 1_704_164_645)  // 2024-01-02T03:04:05Z
        let signed = signer.sign(
            method: method, path: path, query: query,
            headers: [("host", "127.0.0.1:9000"), ("content-type", "application/octet-stream")],
            payloadHash: Hex.lowercase(SHA256.hash(data: Array(body.utf8))), date: date
        )
        let queryString = SigV4Signer.canonicalQuery(query)
        let url = "http://127.0.0.1:9000" + path + (queryString.isEmpty ? "" : "?" + queryString)
        let script = """
            import sys, datetime
            from unittest import mock
            import botocore.auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            req = AWSRequest(method=sys.argv[1], url=sys.argv[2], data=sys.argv[3].encode(), headers={'content-type': 'application/octet-stream'})
            auth = botocore.auth.S3SigV4Auth(Credentials('AKID', 'SECRET/KEY+'), 's3', 'eu-west-1')
            with mock.patch.object(botocore.auth, 'get_current_datetime', return_value=datetime.datetime(2024, 1, 2, 3, 4, 5)):
                auth.add_auth(req)
            print(req.headers['Authorization'])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.venvPython)
        process.arguments = ["-c", script, method, url, body]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let botocore = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(process.terminationStatus == 0)
        // botocore separates the parts with ", ", S3's examples with ",".
        #expect(botocore.replacingOccurrences(of: ", ", with: ",") == signed.authorization)
    }
}
