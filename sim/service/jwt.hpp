#pragma once
// JSON Web Tokens (RFC 7519) as bearer tokens of the REST service: RS256
// (RSA PKCS#1 v1.5 with SHA-256) and HS256 (HMAC-SHA-256) only, keys from a
// JWKS (RFC 7517). OpenSSL stays in jwt.cpp. Tokens are outside input:
// verify_token checks sizes and nesting before parsing, refuses "none" and
// every other algorithm, and never uses a key of one kind for the other
// algorithm (an RSA public key is never an HMAC secret).

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"

namespace twinsim::service {

/// A token that is refused. reason() is the short category the 401 reports
/// ("signature", "expired", "audience", ...), what() the whole message.
class TokenError : public Error {
public:
    TokenError(std::string reason, const std::string& message) : Error(message), reason_(std::move(reason)) {}
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

/// A key set that cannot be used (bad JSON, a key of an unknown type, a
/// malformed RSA modulus ...). The message names the key (index, kid).
class KeyError : public Error {
public:
    using Error::Error;
};

/// Tokens longer than this are refused before anything is decoded.
inline constexpr std::size_t max_token_bytes = 16 * 1024;

/// Verification keys (public RSA keys and HMAC secrets) and, for `twinsim
/// token`, signing keys (an RSA private key or an HMAC secret).
class KeySet {
public:
    KeySet();
    KeySet(KeySet&&) noexcept;
    KeySet& operator=(KeySet&&) noexcept;
    ~KeySet();

    /// A JWKS document {"keys": [...]}: kty "RSA" with n and e (base64url),
    /// kty "oct" with k (base64url, at least 32 bytes); optional kid, alg
    /// (must then be RS256 / HS256), use (must be "sig" when present).
    /// Throws KeyError.
    [[nodiscard]] static KeySet from_jwks(const nlohmann::json& jwks);
    /// A PEM file holding an RSA private key (signing and verification) or
    /// a JWKS file (.json). `kid` names a PEM key. Throws KeyError, IoError.
    [[nodiscard]] static KeySet load(const std::filesystem::path& file, const std::string& kid = {});

    [[nodiscard]] std::size_t size() const noexcept;
    /// The public half as a JWKS: RSA keys as {kty, kid, alg, use, n, e};
    /// HMAC secrets are left out (they are not public).
    [[nodiscard]] nlohmann::json public_jwks() const;

    struct Key;

private:
    friend std::string sign_token(const KeySet&, const nlohmann::json&, const std::string&);
    friend struct TokenVerifier;
    std::vector<std::unique_ptr<Key>> keys_;
};

/// What verification checks besides the signature.
struct TokenRules {
    std::string audience = "https://digitaltwins.azure.net";  ///< aud must equal it (or contain it, for an array)
    std::vector<std::string> issuers;                          ///< iss must be one of them; empty: any issuer
    std::chrono::seconds leeway{60};                           ///< for exp and nbf
};

/// The verified claims.
struct TokenClaims {
    std::string subject;              ///< sub (or oid when sub is absent)
    std::string issuer;               ///< iss
    std::vector<std::string> roles;   ///< the "roles" claim (role names or ids)
    nlohmann::json claims;            ///< the whole payload
};

/// Verifies a compact JWS (header.payload.signature): size, base64url,
/// JSON (nesting), alg RS256 or HS256 with a key of that kind (by kid when
/// the header has one), signature, exp (required), nbf, aud, iss. `now`
/// defaults to the system clock. Throws TokenError naming the failing check.
[[nodiscard]] TokenClaims verify_token(std::string_view token, const KeySet& keys, const TokenRules& rules,
                                       std::optional<std::chrono::system_clock::time_point> now = std::nullopt);

/// A signed token with `claims` as its payload, signed with the first
/// signing key of `keys` (RSA private key: RS256; secret: HS256) and its kid.
/// `alg` "RS256" or "HS256" picks the kind; empty: the first key's. Throws
/// KeyError when `keys` has no signing key of that kind.
[[nodiscard]] std::string sign_token(const KeySet& keys, const nlohmann::json& claims, const std::string& alg = {});

/// base64url without padding (RFC 4648 §5), and back (nullopt for bad text).
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace twinsim::service
