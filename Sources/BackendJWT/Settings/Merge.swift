/// What the module knows of a level that its settings do not say: nginx's own configuration.
public struct LevelFacts: Sendable {
    /// An `if` or `limit_except` block: part of its location.
    public var isBlockInLocation: Bool
    /// The location's content handler (`proxy_pass`, `backend_jwt_jwks`, ...).
    public var contentHandler: ContentHandler
    /// The location's name, for messages.
    public var location: String
    /// The `*_pass_request_headers` directive that is off here, if any.
    public var droppedHeaders: String?

    public init(
        isBlockInLocation: Bool = false, contentHandler: ContentHandler = .none, location: String = "",
        droppedHeaders: String? = nil
    ) {
        self.isBlockInLocation = isBlockInLocation
        self.contentHandler = contentHandler
        self.location = location
        self.droppedHeaders = droppedHeaders
    }
}

/// What decides a signer: two levels with equal parameters share one (and its token cache).
struct SignerParameters: Equatable {
    var algorithm: SigningAlgorithm
    var encoding: TokenEncoding
    var ttl: Int64
    var key: ObjectIdentifier?
    var certificate: ObjectIdentifier?
    var keyID: Signer.KeyIDSource
    var registered: Signer.Registered
    var cacheSize: Int?
    var cacheRemaining: TokenCache.Remaining?
    var claims: ObjectIdentifier?
    var copies: ClaimCopies?
    var capToCaller: Bool
}

extension LevelSettings {
    /// nginx's merge of `child` into its enclosing level `parent` (already merged itself, or the
    /// http level): what a level does not set it inherits, what no level sets gets its default;
    /// then the checks that need both levels, and the signer of an enabled level. Errors name the
    /// directive they are about with its file and line.
    public static func merge(_ parent: LevelSettings, into child: LevelSettings, facts: LevelFacts, config: Configuration)
        throws(BackendJWTError)
    {
        if facts.isBlockInLocation { child.origin = parent.origin ?? parent }
        if parent.enforce.value == true { try child.checkEnforced(by: parent) }
        child.enforce.inherit(parent.enforce, default: false)
        child.enabled.inherit(parent.enabled, default: false)
        child.algorithm.inherit(parent.algorithm, default: .rs256)
        child.encoding.inherit(parent.encoding, default: .base64url)
        child.ttl.inherit(parent.ttl, default: 3600)
        child.header.inherit(parent.header, default: Array("X-JWT-Assertion".utf8))
        child.headerScheme.inherit(parent.headerScheme, default: [])
        child.key.inherit(parent.key)
        child.certificate.inherit(parent.certificate)
        child.keyID.inherit(parent.keyID, default: .thumbprint)
        child.issuer.inherit(parent.issuer)
        child.subject.inherit(parent.subject)
        child.audience.inherit(parent.audience)
        child.notBefore.inherit(parent.notBefore, default: nil)
        child.jti.inherit(parent.jti, default: true)
        // nginx's own limit of a header line (large_client_header_buffers), so an nginx backend
        // with the default configuration accepts every token
        child.maxSize.inherit(parent.maxSize, default: 8192)
        child.cache.inherit(parent.cache, default: nil)
        try child.mergeClaims(parent)
        child.inheritVerify(parent)
        try child.checkVerifySettingsUsed(facts)
        if child.servesJWKS { try child.checkJWKS(facts) }
        try child.checkAnswer(facts)
        try child.makeVerifier(sharingWith: parent, config: config)
        child.makeRules(config: config)
        guard child.enabled.value == true else { return }
        try child.checkCopies(facts)
        if child.enforce.value == true, child.header.value?.isEmpty == false, let dropped = facts.droppedHeaders {
            throw BackendJWTError(
                .config,
                "backend_jwt: \"\(dropped) off\" in location \"\(facts.location)\" would not send the token that "
                    + "\"backend_jwt_enforce on\" requires\(at(child.enforce.place))")
        }
        try child.makeSigner(sharingWith: parent, config: config)
        try child.checkMaxSize()
    }

    /// `backend_jwt_enforce`: a level below an enforcing one may set nothing but claims of its
    /// own; the first directive it sets (in the command table's order) fails at its line.
    private func checkEnforced(by parent: LevelSettings) throws(BackendJWTError) {
        for directive in Directive.allCases where !directive.allowedUnderEnforce {
            guard let place = own[directive] else { continue }
            throw BackendJWTError(
                .config,
                "\"\(directive.rawValue)\" cannot be set here: \"backend_jwt_enforce on\"\(at(parent.enforce.place)) keeps "
                    + "the enclosing level's settings (only claims can be added) in \(place)")
        }
    }

    /// A level that declares claims replaces the inherited list, or adds to it under
    /// `backend_jwt_enforce` (a name that collides fails at its own line).
    private func mergeClaims(_ parent: LevelSettings) throws(BackendJWTError) {
        guard let own = claims.value else {
            claims.inherit(parent.claims)
            return
        }
        guard parent.enforce.value == true, let enforced = parent.claims.value else { return }
        var conflict = 0
        do {
            let list = try enforced.list.appending(own.list, conflict: &conflict)
            claims.set(
                DeclaredClaims(list: list, templates: enforced.templates + own.templates, places: enforced.places + own.places),
                at: claims.place)
        } catch {
            throw BackendJWTError(.config, "backend_jwt: \(error.message) in \(own.places[conflict])")
        }
    }

    /// A location that serves the JWK Set never mints, even under an enabled or enforcing
    /// level, and has no other content handler.
    private func checkJWKS(_ facts: LevelFacts) throws(BackendJWTError) {
        guard facts.contentHandler == .jwks else {
            throw BackendJWTError(
                .config,
                "\"backend_jwt_jwks\" cannot share a location with another content handler (proxy_pass, fastcgi_pass, ...)"
                    + at(own[.jwks]))
        }
        if let on = own[.enable], enabled.value == true {
            throw BackendJWTError(
                .config,
                "\"backend_jwt on\" in a location that serves the JWK Set (backend_jwt_jwks): it never mints a token, "
                    + "remove it in \(on)")
        }
        enabled.set(false, at: enabled.place)
    }

    var signerParameters: SignerParameters {
        var required: Signer.RequiredClaims = []
        if issuer.value?.required == true { required.insert(.issuer) }
        if subject.value?.required == true { required.insert(.subject) }
        if audience.value?.required == true { required.insert(.audience) }
        let cacheChoice = cache.value ?? nil
        return SignerParameters(
            algorithm: algorithm.value ?? .rs256, encoding: encoding.value ?? .base64url, ttl: ttl.value ?? 3600,
            key: key.value.map(ObjectIdentifier.init), certificate: certificate.value.map(ObjectIdentifier.init),
            keyID: keyID.value ?? .thumbprint,
            registered: Signer.Registered(
                audienceCount: audience.value?.templates.count ?? 0, notBeforeLeeway: notBefore.value ?? nil,
                jti: jti.value ?? true, required: required),
            cacheSize: cacheChoice?.size, cacheRemaining: cacheChoice?.remaining,
            claims: claims.value.map { ObjectIdentifier($0.list) }, copies: copies.value ?? nil,
            capToCaller: capToCaller.value ?? true)
    }

    /// The signer of an enabled level: the enclosing level's when nothing that signs differs,
    /// else a new one, whose public key goes into the JWK Set. An error points at the directive
    /// it is about: the key, the certificate, or `backend_jwt on` when there is no key.
    private func makeSigner(sharingWith parent: LevelSettings, config: Configuration) throws(BackendJWTError) {
        let parameters = signerParameters
        if let shared = parent.signer, parent.signerParameters == parameters {
            signer = shared
            return
        }
        let cacheChoice = cache.value ?? nil
        if let choice = cacheChoice {
            do {
                _ = try Signer.minimumRemaining(choice.remaining, ttl: parameters.ttl)
            } catch {
                throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(cache.place))")
            }
        }
        let made: Signer
        do {
            made = try Signer(
                algorithm: parameters.algorithm, encoding: parameters.encoding, ttl: parameters.ttl, key: key.value,
                certificate: certificate.value, keyID: parameters.keyID, registered: parameters.registered,
                cache: cacheChoice, claims: claims.value?.list.claims ?? [], copies: parameters.copies,
                capToCaller: parameters.capToCaller)
        } catch {
            let place = key.value == nil ? enabled.place : error.kind == .certificate ? certificate.place : key.place
            throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(place))")
        }
        do {
            try config.jwks.add(made)
        } catch {
            throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(key.place))")
        }
        made.metrics = config.metrics
        signer = made
    }

    /// `backend_jwt_max_size` must let the shortest token of the location through.
    private func checkMaxSize() throws(BackendJWTError) {
        guard let signer, let maxSize = maxSize.value else { return }
        let shortest = signer.minimumTokenLength
        guard maxSize < shortest else { return }
        throw BackendJWTError(
            .config,
            "backend_jwt: backend_jwt_max_size \(maxSize) is less than the shortest token this location makes "
                + "(\(shortest) bytes): no request could be forwarded\(at(self.maxSize.place ?? enabled.place))")
    }
}

/// ` in file:line`, or nothing for a default.
func at(_ place: Where?) -> String { place.map { " in \($0)" } ?? "" }
