import Testing
@testable import BackendJWT
import JWTKit
