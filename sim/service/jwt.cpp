#include "twinsim/service/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "twinsim/common/json_depth.hpp"

namespace twinsim::service {

using nlohmann::json;

struct KeySet::Key {
    enum class Kind { rsa, hmac };
    Kind kind = Kind::rsa;
    std::string kid;
    EVP_PKEY* pkey = nullptr;   ///< RSA
    bool has_private = false;   ///< RSA private key: can sign
    std::string secret;         ///< HMAC
    Key() = default;
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
    ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string bignum_bytes(const BIGNUM* bn) {
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

std::string member_string(const json& object, const char* name, const std::string& where) {
    if (!object.contains(name)) return {};
    const json& value = object.at(name);
    if (!value.is_string()) throw KeyError(where + ": \"" + name + "\" must be a string");
    return value.get<std::string>();
}

std::unique_ptr<KeySet::Key> rsa_public_key(const std::string& n_bytes, const std::string& e_bytes, const std::string& where) {
    BIGNUM* n = BN_bin2bn(bytes_of(n_bytes), static_cast<int>(n_bytes.size()), nullptr);
    BIGNUM* e = BN_bin2bn(bytes_of(e_bytes), static_cast<int>(e_bytes.size()), nullptr);
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    OSSL_PARAM* params = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    EVP_PKEY* pkey = nullptr;
    const bool ok = n != nullptr && e != nullptr && build != nullptr && ctx != nullptr &&
                    OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
                    OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
                    (params = OSSL_PARAM_BLD_to_param(build)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    if (!ok) {
        EVP_PKEY_free(pkey);
        throw KeyError(where + ": n and e do not make an RSA public key");
    }
    auto key = std::make_unique<KeySet::Key>();
    key->pkey = pkey;
    if (EVP_PKEY_get_bits(pkey) < 2048) throw KeyError(where + ": RSA keys must have at least 2048 bits");
    return key;
}

std::optional<std::string> base64url_member(const json& object, const char* name, const std::string& where) {
    const std::string text = member_string(object, name, where);
    if (text.empty()) return std::nullopt;
    auto bytes = base64url_decode(text);
    if (!bytes) throw KeyError(where + ": \"" + name + "\" is not base64url");
    return bytes;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : bytes) {
        acc = (acc << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 63U];
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 63U];
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = decode_char(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFFU);
        }
    }
    return out;
}

KeySet::KeySet() = default;
KeySet::KeySet(KeySet&&) noexcept = default;
KeySet& KeySet::operator=(KeySet&&) noexcept = default;
KeySet::~KeySet() = default;

std::size_t KeySet::size() const noexcept { return keys_.size(); }

KeySet KeySet::from_jwks(const json& jwks) {
    if (!jwks.is_object() || !jwks.contains("keys") || !jwks.at("keys").is_array())
        throw KeyError("a key set must be a JWKS: {\"keys\": [ ... ]}");
    KeySet set;
    const json& keys = jwks.at("keys");
    if (keys.size() > 100) throw KeyError("a key set holds at most 100 keys");
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const json& jwk = keys[i];
        std::string where = "key " + std::to_string(i);
        if (!jwk.is_object()) throw KeyError(where + ": not an object");
        const std::string kid = member_string(jwk, "kid", where);
        if (!kid.empty()) where += " (kid " + kid + ")";
        const std::string kty = member_string(jwk, "kty", where);
        const std::string alg = member_string(jwk, "alg", where);
        const std::string use = member_string(jwk, "use", where);
        if (!use.empty() && use != "sig") throw KeyError(where + ": \"use\" must be \"sig\", found \"" + use + "\"");
        std::unique_ptr<Key> key;
        if (kty == "RSA") {
            if (!alg.empty() && alg != "RS256") throw KeyError(where + ": an RSA key is for RS256, found alg " + alg);
            const auto n = base64url_member(jwk, "n", where);
            const auto e = base64url_member(jwk, "e", where);
            if (!n || !e) throw KeyError(where + ": an RSA key needs \"n\" and \"e\"");
            key = rsa_public_key(*n, *e, where);
        } else if (kty == "oct") {
            if (!alg.empty() && alg != "HS256") throw KeyError(where + ": a secret (oct) key is for HS256, found alg " + alg);
            const auto k = base64url_member(jwk, "k", where);
            if (!k || k->size() < 32) throw KeyError(where + ": a secret needs \"k\" of at least 32 bytes (base64url)");
            key = std::make_unique<Key>();
            key->kind = Key::Kind::hmac;
            key->secret = *k;
        } else {
            throw KeyError(where + ": unsupported kty \"" + kty + "\" (RSA or oct)");
        }
        key->kid = kid;
        set.keys_.push_back(std::move(key));
    }
    return set;
}

KeySet KeySet::load(const std::filesystem::path& file, const std::string& kid) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError("cannot read the key file " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    if (content.size() > (1u << 20)) throw KeyError("the key file " + file.string() + " is larger than 1 MiB");
    if (content.find("-----BEGIN") != std::string::npos) {
        BIO* bio = BIO_new_mem_buf(content.data(), static_cast<int>(content.size()));
        EVP_PKEY* pkey = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
        BIO_free(bio);
        if (pkey == nullptr || EVP_PKEY_is_a(pkey, "RSA") != 1) {
            EVP_PKEY_free(pkey);
            throw KeyError("the key file " + file.string() + " holds no unencrypted RSA private key (PEM)");
        }
        auto key = std::make_unique<Key>();
        key->pkey = pkey;
        key->has_private = true;
        key->kid = kid.empty() ? "twinsim-1" : kid;
        if (EVP_PKEY_get_bits(pkey) < 2048) throw KeyError("the key in " + file.string() + " has fewer than 2048 bits");
        KeySet set;
        set.keys_.push_back(std::move(key));
        return set;
    }
    if (find_json_depth_excess(content)) throw KeyError("the key file " + file.string() + " " + json_depth_reason());
    json jwks;
    try {
        jwks = json::parse(content);
    } catch (const json::parse_error& e) {
        throw KeyError("the key file " + file.string() + " is neither PEM nor JSON: " + e.what());
    }
    try {
        return from_jwks(jwks);
    } catch (const KeyError& e) {
        throw KeyError(file.string() + ": " + e.what());
    }
}

json KeySet::public_jwks() const {
    json keys = json::array();
    for (const auto& key : keys_) {
        if (key->kind != Key::Kind::rsa) continue;
        BIGNUM* n = nullptr;
        BIGNUM* e = nullptr;
        if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
            EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
            keys.push_back(json{{"kty", "RSA"}, {"kid", key->kid}, {"alg", "RS256"}, {"use", "sig"},
                                {"n", base64url_encode(bignum_bytes(n))}, {"e", base64url_encode(bignum_bytes(e))}});
        }
        BN_free(n);
        BN_free(e);
    }
    return json{{"keys", keys}};
}

namespace {

std::string hmac_sha256(const std::string& secret, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes_of(data), data.size(), out, &length) == nullptr)
        throw KeyError("HMAC-SHA-256 failed");
    return std::string(reinterpret_cast<const char*>(out), length);
}

bool rsa_verify(EVP_PKEY* pkey, std::string_view data, std::string_view signature) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
                    EVP_DigestVerify(ctx, bytes_of(signature), signature.size(), bytes_of(data), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

std::string rsa_sign(EVP_PKEY* pkey, std::string_view data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t length = 0;
    std::string out;
    bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
              EVP_DigestSign(ctx, nullptr, &length, bytes_of(data), data.size()) == 1;
    if (ok) {
        out.resize(length);
        ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(out.data()), &length, bytes_of(data), data.size()) == 1;
        out.resize(length);
    }
    EVP_MD_CTX_free(ctx);
    if (!ok) throw KeyError("RSA signing failed");
    return out;
}

json decode_part(std::string_view part, const char* what) {
    const auto bytes = base64url_decode(part);
    if (!bytes) throw TokenError("malformed", std::string("the token's ") + what + " is not base64url");
    if (find_json_depth_excess(*bytes)) throw TokenError("malformed", std::string("the token's ") + what + " " + json_depth_reason());
    json value = json::parse(*bytes, nullptr, false);
    if (!value.is_object()) throw TokenError("malformed", std::string("the token's ") + what + " is not a JSON object");
    return value;
}

std::optional<double> numeric_claim(const json& claims, const char* name) {
    if (!claims.contains(name)) return std::nullopt;
    const json& v = claims.at(name);
    if (!v.is_number() || !std::isfinite(v.get<double>()))
        throw TokenError("malformed", std::string("the token's \"") + name + "\" claim is not a number of seconds");
    return v.get<double>();
}

}  // namespace

struct TokenVerifier {
    static TokenClaims verify(std::string_view token, const KeySet& keys, const TokenRules& rules,
                              std::chrono::system_clock::time_point now) {
        if (token.size() > max_token_bytes)
            throw TokenError("malformed", "the token is longer than " + std::to_string(max_token_bytes) + " bytes");
        const std::size_t first = token.find('.');
        const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
        if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
            throw TokenError("malformed", "the token is not a JWT (header.payload.signature)");
        const json header = decode_part(token.substr(0, first), "header");
        const std::string alg = header.contains("alg") && header.at("alg").is_string() ? header.at("alg").get<std::string>() : "";
        if (alg != "RS256" && alg != "HS256")
            throw TokenError("algorithm", "the token's algorithm \"" + alg + "\" is not accepted (RS256 or HS256)");
        const std::string kid = header.contains("kid") && header.at("kid").is_string() ? header.at("kid").get<std::string>() : "";
        const auto signature = base64url_decode(token.substr(second + 1));
        if (!signature) throw TokenError("malformed", "the token's signature is not base64url");
        const std::string_view signed_part = token.substr(0, second);
        const auto kind = alg == "RS256" ? KeySet::Key::Kind::rsa : KeySet::Key::Kind::hmac;
        bool candidate = false;
        bool verified = false;
        for (const auto& key : keys.keys_) {
            if (key->kind != kind || (!kid.empty() && !key->kid.empty() && key->kid != kid)) continue;
            candidate = true;
            if (kind == KeySet::Key::Kind::rsa) {
                verified = rsa_verify(key->pkey, signed_part, *signature);
            } else {
                const std::string expected = hmac_sha256(key->secret, signed_part);
                verified = expected.size() == signature->size() &&
                           CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) == 0;
            }
            if (verified) break;
        }
        if (!candidate)
            throw TokenError("signature", "no configured key verifies " + alg + " tokens" + (kid.empty() ? "" : " with kid " + kid));
        if (!verified) throw TokenError("signature", "the token's signature does not verify");

        json claims = decode_part(token.substr(first + 1, second - first - 1), "payload");
        const double t = std::chrono::duration<double>(now.time_since_epoch()).count();
        const double leeway = static_cast<double>(rules.leeway.count());
        const auto exp = numeric_claim(claims, "exp");
        if (!exp) throw TokenError("expired", "the token has no \"exp\" (expiry) claim");
        if (t > *exp + leeway) throw TokenError("expired", "the token expired");
        if (const auto nbf = numeric_claim(claims, "nbf"); nbf && t + leeway < *nbf)
            throw TokenError("not yet valid", "the token is not valid yet (nbf)");
        bool audience_ok = false;
        if (claims.contains("aud")) {
            const json& aud = claims.at("aud");
            if (aud.is_string()) audience_ok = aud == rules.audience;
            if (aud.is_array())
                for (const json& a : aud) audience_ok = audience_ok || (a.is_string() && a == rules.audience);
        }
        if (!audience_ok) throw TokenError("audience", "the token is not for the audience " + rules.audience);
        TokenClaims out;
        if (claims.contains("iss") && claims.at("iss").is_string()) out.issuer = claims.at("iss").get<std::string>();
        if (!rules.issuers.empty() &&
            std::find(rules.issuers.begin(), rules.issuers.end(), out.issuer) == rules.issuers.end())
            throw TokenError("issuer", "the token's issuer \"" + out.issuer + "\" is not trusted");
        for (const char* name : {"sub", "oid"}) {
            if (out.subject.empty() && claims.contains(name) && claims.at(name).is_string())
                out.subject = claims.at(name).get<std::string>();
        }
        if (claims.contains("roles")) {
            const json& roles = claims.at("roles");
            if (roles.is_string()) out.roles.push_back(roles.get<std::string>());
            else if (roles.is_array())
                for (const json& r : roles)
                    if (r.is_string()) out.roles.push_back(r.get<std::string>());
        }
        out.claims = std::move(claims);
        return out;
    }
};

TokenClaims verify_token(std::string_view token, const KeySet& keys, const TokenRules& rules,
                         std::optional<std::chrono::system_clock::time_point> now) {
    return TokenVerifier::verify(token, keys, rules, now.value_or(std::chrono::system_clock::now()));
}

std::string sign_token(const KeySet& keys, const json& claims, const std::string& alg) {
    for (const auto& key : keys.keys_) {
        const bool rsa = key->kind == KeySet::Key::Kind::rsa && key->has_private;
        const bool hmac = key->kind == KeySet::Key::Kind::hmac;
        if (!(rsa || hmac) || (alg == "RS256" && !rsa) || (alg == "HS256" && !hmac)) continue;
        json header{{"alg", rsa ? "RS256" : "HS256"}, {"typ", "JWT"}};
        if (!key->kid.empty()) header["kid"] = key->kid;
        const std::string signed_part = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
        const std::string signature = rsa ? rsa_sign(key->pkey, signed_part) : hmac_sha256(key->secret, signed_part);
        return signed_part + "." + base64url_encode(signature);
    }
    throw KeyError(alg.empty() ? "no signing key: give an RSA private key (PEM) or a JWKS with a secret (oct) key"
                               : "no " + alg + " signing key in the key set");
}

}  // namespace twinsim::service
