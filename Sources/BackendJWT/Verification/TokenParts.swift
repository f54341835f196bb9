#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A compact JWS cut into its three segments (RFC 7515 section 7.1), the header decoded and
/// parsed, the payload decoded from base64url. The payload's JSON is parsed only when asked,
/// after the signature has verified.
struct TokenParts {
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature is over.
    let signingInput: ArraySlice<UInt8>
    let header: JSONValue
    private let payloadBytes: [UInt8]
    private let signatureSegment: ArraySlice<UInt8>

    init(_ token: [UInt8]) throws(BackendJWTError) {
        guard !token.isEmpty else { throw BackendJWTError(.token, "the token is empty") }
        // the dots: where the first two are (memchr), and how many there are (counted only when
        // there is a third)
        var dots = (count: 0, first: 0, second: 0)
        token.withUnsafeBytes { bytes in
            let base = bytes.baseAddress!
            func dot(after start: Int) -> Int? {
                guard start < bytes.count, let found = memchr(base + start, Int32(UInt8(ascii: ".")), bytes.count - start)
                else { return nil }
                return base.distance(to: UnsafeRawPointer(found))
            }
            guard let first = dot(after: 0) else { return }
            guard let second = dot(after: first + 1) else { return dots.count = 1 }
            dots = (2, first, second)
            if dot(after: second + 1) != nil { dots.count = bytes.count { $0 == UInt8(ascii: ".") } }
        }
        guard dots.count == 2 else {
            if dots.count == 4 {
                throw BackendJWTError(.token, "the token has 5 segments: an encrypted token (JWE) is not accepted")
            }
            throw BackendJWTError(.token, "the token has \(dots.count + 1) segments; a JWS has 3")
        }
        let headerSegment = token[..<dots.first]
        signatureSegment = token[(dots.second + 1)...]
        signingInput = token[..<dots.second]
        header = try Self.object(Self.decode(headerSegment, "header"), "header")
        payloadBytes = try Self.decode(token[(dots.first + 1)..<dots.second], "payload")
    }

    /// The payload as a JSON object.
    func decodePayload() throws(BackendJWTError) -> JSONValue { try Self.object(payloadBytes, "payload") }

    /// The signature bytes.
    func decodeSignature() throws(BackendJWTError) -> [UInt8] { try Self.decode(signatureSegment, "signature") }

    /// A segment's bytes: strict base64url.
    private static func decode(_ segment: ArraySlice<UInt8>, _ name: String) throws(BackendJWTError) -> [UInt8] {
        guard let bytes = Base64URLDecoding.decode(segment) else {
            throw BackendJWTError(.token, "the \(name) segment \(Base64URLDecoding.whyNot(segment))")
        }
        return bytes
    }

    /// Decoded bytes as a JSON object: UTF-8, strict JSON, no duplicate names.
    private static func object(_ bytes: [UInt8], _ name: String) throws(BackendJWTError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw BackendJWTError(.token, "the \(name) is not valid JSON: \(error.description)")
        }
        guard case .object = value else { throw BackendJWTError(.token, "the \(name) is not a JSON object") }
        return value
    }
}
