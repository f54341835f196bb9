/// What decides a verifier: two levels with equal parameters share one.
struct VerifierParameters: Equatable {
    var keys: [ObjectIdentifier]
    var algorithms: [SigningAlgorithm]?
    var issuers: [[UInt8]]
    var audiences: [[UInt8]]
    var leeway: Int64
}

/// The merge of the caller's token settings (Merge.swift calls these in order).
extension LevelSettings {
    func inheritVerify(_ parent: LevelSettings) {
        verify.inherit(parent.verify, default: false)
        verifyToken.inherit(parent.verifyToken, default: nil)
        verifyKeys.inherit(parent.verifyKeys)
        verifyAlgorithms.inherit(parent.verifyAlgorithms)
        verifyIssuers.inherit(parent.verifyIssuers, default: [])
        verifyAudiences.inherit(parent.verifyAudiences, default: [])
        verifyLeeway.inherit(parent.verifyLeeway, default: 0)
        verifyRequire.inherit(parent.verifyRequire, default: [])
        verifyForward.inherit(parent.verifyForward, default: false)
        copies.inherit(parent.copies, default: nil)
        capToCaller.inherit(parent.capToCaller, default: true)
    }

    var verifierParameters: VerifierParameters {
        VerifierParameters(
            keys: (verifyKeys.value ?? []).map(ObjectIdentifier.init), algorithms: verifyAlgorithms.value,
            issuers: verifyIssuers.value ?? [], audiences: verifyAudiences.value ?? [], leeway: verifyLeeway.value ?? 0)
    }

    /// The verifier of a level with `backend_jwt_verify on`: the enclosing level's when nothing
    /// that verifies differs. An error names the directive it is about.
    func makeVerifier(sharingWith parent: LevelSettings) throws(BackendJWTError) {
        guard verify.value == true else { return }
        guard let keys = verifyKeys.value, !keys.isEmpty else {
            throw BackendJWTError(
                .config, "\"backend_jwt_verify on\" needs a key: add backend_jwt_verify_key\(at(verify.place))")
        }
        let parameters = verifierParameters
        if let shared = parent.verifier, parent.verifierParameters == parameters {
            verifier = shared
            return
        }
        do {
            verifier = try JWSVerifier(
                keys: keys, algorithms: parameters.algorithms, issuers: parameters.issuers,
                audiences: parameters.audiences, leeway: parameters.leeway)
        } catch {
            throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(verifyAlgorithms.place ?? verifyKeys.place))")
        }
    }

    /// Claims copied from the caller's token need one: where a level mints, copies without
    /// verification could never copy anything, and a copy may not collide with a declared claim.
    func checkCopies() throws(BackendJWTError) {
        guard let copies = copies.value ?? nil else { return }
        guard verify.value == true else {
            throw BackendJWTError(
                .config,
                "\"backend_jwt_copy_claims\" needs \"backend_jwt_verify on\" where \"backend_jwt on\" is: without a "
                    + "verified token there is nothing to copy\(at(self.copies.place))")
        }
        do {
            try copies.checkConflicts(with: claims.value?.list.claims ?? [])
        } catch {
            throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(self.copies.place))")
        }
    }
}
