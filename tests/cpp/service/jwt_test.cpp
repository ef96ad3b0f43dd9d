// Bearer tokens (sim/service/jwt.hpp): RS256 and HS256 sign and verify, and
// every way a token is refused — tampering, "none" and other algorithms, an
// RSA public key offered as an HMAC secret, kid, exp/nbf with leeway,
// audience (string or array), issuer, size and malformed parts.

#include <catch2/catch.hpp>

#include <fstream>

#include "../live/store_support.hpp"
#include "twinsim/service/access.hpp"
#include "twinsim/service/jwt.hpp"

using namespace twinsim;
using namespace twinsim::service;
using nlohmann::json;

namespace {

// A 2048-bit RSA key made for this test only.
const char* test_pem = R"pem(-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQClGdUfFCdTaqX3
3Gf/k7lqDc5cr86Cj6Gbm55P6eFLCYTJn/dKSchDdP14p/a5q0E0KHAVK/LmTIkm
D6VyWyQ8Ab+P5EUEr6yBURsGI0ptWXi7/FS4ZTGTHWtUHsjOQTkXxGrttqkDpKUp
68GnP7XZg0L4lPmwAYDtQ6BNLFlaqgxV9+Ko5hC4Kvias1/CcXmw5t4po5xsjXMB
+js+nTYKZPIr5358RjqIBVQkbFSXyebwz7IK4rjOR9lgVH+CIZDKYU7ibvhBRA5H
4eIe1Znnmh0XI1J3WqKc+VVsMZ44iftpnsUS1w+zyobVezRKG5+UGtbr8VJhmBtR
eim7GoDdAgMBAAECggEABpdbbM9oxBz6RBHAJr65192pPJ+mk1iZaRVZyQyOemjT
Rk4xy/0NShqKxZ0r1AnEPQk7c3zuFS4LcHUoQI9NVdMnPkVf6mn6oK1uPymvHpWq
pK0HbNbAl4QrKFz6Q1G5ri5tqzcJoSQBLzh14lZAZxvYbQT1jiAUcTFFkXWRAHXz
WmNqtluQaQ0cleTIwSNiPa0yViBlScun4/pdS6H6AS0cOwixW5zvOhJxBiuFDwTL
MguTx3dR9NwMXgPORCjUy0Na5PoQlaaveXVPmKDI9IXLxpRIlx2w7W5gZMZKFs3j
xPX6nxMim4UtyGzfnSus2rOAJ+ZdWfTPMZHMVKjmuQKBgQDnlIXwMeLLdlNXxr5W
llkzm6qwim5IV8VnjYEKo9AIyT5C00wMPW6Q7ja6DKV9PfFdy7ziLCSmO1ILrLcA
+8/7P9PBc9KvxRfV5zD6yfFcd4b+UzdkA7U03Mbla2t00bH21QlJ/t5I4UbVRn49
OOR5wBJ/tzeOUI/z+QhlJBxnbwKBgQC2grXSWth/AOGa0d3Dg7/2I2EzhQgkeJGO
fB6UK+DH+HsLsnSVUnYCimtR0utamvxJYrfVe2u0eCZ8/k/vUrS+glvLAJ4qYHTT
+a6R0lRzFcnnRToXrvOVIYW9YhT6mnf09aGJdLR5JeYTZwrk8TEoQdGAyi5QJfRu
5C/Al5OWcwKBgGUSKn7RlvVL+EX4BLyPs/DVQOL6F/XU8OAoHyjApBwhkN3jkG5L
JYV1okcDG/sUXNKeCBsCPyCaBU35HIn+XSCAE/B7l3mFYMjHtVXPa1r7A9zd/u/U
unKO5PPeNTDwEGb1Ra+Y3/UY9SxCLviTawxEKw64rTOcr6dAikxyPT9bAoGASlMm
uniWi/oO5h6rQhDoXtN/pRx6+WdEV5NCXLMVwjn12gido6XGOzilhdfwUqClNzmF
heHSNddsTSC/6sVyp9asjRo+TyGi0iRvLCFMlOV9qLovcy+jMMtLDJnh00COs2pI
k5K8YE3HyYUAEcYLb8qGB/3OKIOcbIBu1e6kgvMCgYEA1n9z8KVzki/GAop4Q0aX
rXJDUwXL4ie7ZWs14JswBF5m4srpAGb30B2KoD2MysSQahRyD0D5VJQecn0dfrrB
ldk/jRN2Od4yxr5GPfxytwMrxCX26RQgkP/l0tWmGaPDcHr8THZi8f8xghIRwsXl
m9/melxlLxiXLgDzd7I+oOs=
-----END PRIVATE KEY-----)pem";

KeySet rsa_keys(const test::TempDir& dir) {
    const auto file = dir.path / "key.pem";
    std::ofstream(file) << test_pem << '\n';
    return KeySet::load(file, "k1");
}

KeySet secret_keys(const std::string& kid = "s1") {
    return KeySet::from_jwks(json{{"keys", {{{"kty", "oct"}, {"kid", kid}, {"k", base64url_encode(std::string(40, 'x'))}}}}});
}

json claims(double exp_in = 3600) {
    const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch()).count());
    return json{{"sub", "alice"}, {"aud", "https://digitaltwins.azure.net"}, {"iss", "twinsim"}, {"exp", now + exp_in},
                {"roles", {"Azure Digital Twins Data Reader"}}};
}

std::string reason(const std::string& token, const KeySet& keys, const TokenRules& rules = {}) {
    try {
        (void)verify_token(token, keys, rules);
    } catch (const TokenError& e) {
        return e.reason();
    }
    return "accepted";
}

std::string forge(const json& header, const json& payload, const std::string& signature = "") {
    return base64url_encode(header.dump()) + "." + base64url_encode(payload.dump()) + "." + base64url_encode(signature);
}

}  // namespace

TEST_CASE("base64url round-trips and refuses bad text", "[jwt]") {
    for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\0\xff\x10", 3)}) CHECK(base64url_decode(base64url_encode(s)) == s);
    CHECK_FALSE(base64url_decode("a+b/"));
    CHECK_FALSE(base64url_decode("a"));
}

TEST_CASE("RS256 and HS256 tokens verify; tampered ones do not", "[jwt]") {
    test::TempDir dir("jwt");
    const KeySet rsa = rsa_keys(dir);
    const KeySet secret = secret_keys();
    const std::string r = sign_token(rsa, claims());
    const std::string h = sign_token(secret, claims());
    const TokenClaims c = verify_token(r, rsa, {});
    CHECK(c.subject == "alice");
    CHECK(c.roles == std::vector<std::string>{"Azure Digital Twins Data Reader"});
    CHECK(reason(h, secret) == "accepted");
    CHECK(json::parse(*base64url_decode(r.substr(0, r.find('.'))))["kid"] == "k1");

    std::string payload_changed = r;
    const std::size_t dot = r.find('.');
    json p = claims();
    p["roles"] = {"Azure Digital Twins Data Owner"};
    payload_changed.replace(dot + 1, r.rfind('.') - dot - 1, base64url_encode(p.dump()));
    CHECK(reason(payload_changed, rsa) == "signature");
    CHECK(reason(h.substr(0, h.size() - 2) + "AA", secret) == "signature");
    CHECK(reason(r, secret) == "signature");  // an RS256 token, only an HMAC key configured
    CHECK(reason(sign_token(secret_keys("s2"), claims()), secret) == "signature");  // another kid

    // The public JWKS verifies what the private key signed.
    CHECK(reason(r, KeySet::from_jwks(rsa.public_jwks())) == "accepted");
    CHECK(rsa.public_jwks()["keys"][0]["kty"] == "RSA");
    CHECK(secret.public_jwks()["keys"].empty());
}

TEST_CASE("algorithm confusion and none are refused", "[jwt]") {
    test::TempDir dir("jwt");
    const KeySet rsa = rsa_keys(dir);
    CHECK(reason(forge({{"alg", "none"}}, claims()), rsa) == "algorithm");
    CHECK(reason(forge({{"alg", "RS512"}}, claims()), rsa) == "algorithm");
    CHECK(reason(forge({{"typ", "JWT"}}, claims()), rsa) == "algorithm");
    // HS256 "signed" with the RSA public key's bytes as the secret: no HMAC key exists.
    const json jwk = rsa.public_jwks()["keys"][0];
    const KeySet as_secret = KeySet::from_jwks(json{{"keys", {{{"kty", "oct"}, {"k", jwk["n"]}}}}});
    CHECK(reason(sign_token(as_secret, claims()), rsa) == "signature");
}

TEST_CASE("exp, nbf, audience and issuer are checked with leeway", "[jwt]") {
    const KeySet secret = secret_keys();
    TokenRules rules;
    rules.leeway = std::chrono::seconds(60);
    CHECK(reason(sign_token(secret, claims(-30)), secret, rules) == "accepted");  // within the leeway
    CHECK(reason(sign_token(secret, claims(-90)), secret, rules) == "expired");
    json no_exp = claims();
    no_exp.erase("exp");
    CHECK(reason(sign_token(secret, no_exp), secret, rules) == "expired");
    json early = claims();
    early["nbf"] = early["exp"].get<double>();
    CHECK(reason(sign_token(secret, early), secret, rules) == "not yet valid");
    json text_exp = claims();
    text_exp["exp"] = "tomorrow";
    CHECK(reason(sign_token(secret, text_exp), secret, rules) == "malformed");
    json aud = claims();
    aud["aud"] = {"https://other", "https://digitaltwins.azure.net"};
    CHECK(reason(sign_token(secret, aud), secret, rules) == "accepted");
    aud["aud"] = "https://other";
    CHECK(reason(sign_token(secret, aud), secret, rules) == "audience");
    rules.issuers = {"someone-else"};
    CHECK(reason(sign_token(secret, claims()), secret, rules) == "issuer");
}

TEST_CASE("malformed tokens are refused, never crash", "[jwt]") {
    const KeySet secret = secret_keys();
    for (const std::string& t : std::vector<std::string>{"", ".", "..", "a.b", "a.b.c.d", "%%%.e30.", "e30.e30.", "bnVsbA.e30.",
                                                          std::string(20000, 'a')})
        CHECK(reason(t, secret) != "accepted");
    const std::string deep = base64url_encode(std::string(300, '[') + std::string(300, ']'));
    CHECK(reason(deep + "." + deep + ".", secret) == "malformed");
}

TEST_CASE("key sets refuse what cannot be a signing key", "[jwt]") {
    CHECK_THROWS_AS(KeySet::from_jwks(json::array()), KeyError);
    CHECK_THROWS_AS(KeySet::from_jwks(json{{"keys", {{{"kty", "EC"}}}}}), KeyError);
    CHECK_THROWS_AS(KeySet::from_jwks(json{{"keys", {{{"kty", "oct"}, {"k", "c2hvcnQ"}}}}}), KeyError);
    CHECK_THROWS_AS(KeySet::from_jwks(json{{"keys", {{{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}}}}}), KeyError);
    CHECK_THROWS_AS(KeySet::from_jwks(json{{"keys", {{{"kty", "oct"}, {"alg", "RS256"}, {"k", std::string(60, 'A')}}}}}), KeyError);
    CHECK_THROWS_AS(sign_token(KeySet::from_jwks(json{{"keys", json::array()}}), claims()), KeyError);
}

TEST_CASE("actions, roles and scopes", "[jwt]") {
    CHECK(action_matches("Microsoft.DigitalTwins/digitaltwins/*", "Microsoft.DigitalTwins/digitaltwins/relationships/read"));
    CHECK(action_matches("microsoft.digitaltwins/QUERY/*", "Microsoft.DigitalTwins/query/action"));
    CHECK_FALSE(action_matches("Microsoft.DigitalTwins/models/read", "Microsoft.DigitalTwins/models/write"));
    CHECK(action_matches("*", "anything"));
    CHECK_FALSE(action_matches("a*b*c", std::string(5000, 'a')));
    CHECK(std::string(action_of(Operation::publish_telemetry)) == "Microsoft.DigitalTwins/digitaltwins/action");
    CHECK(action_of(Operation::health) == nullptr);
    for (std::size_t i = 1; i < operation_count; ++i) CHECK(action_of(static_cast<Operation>(i)) != nullptr);

    const Role& owner = builtin_roles()[0];
    const Role& reader = builtin_roles()[1];
    Caller c{"bob", {{&reader, std::nullopt}, {&owner, Scope{{}, {"in-"}}}}};
    const auto is_a = [](std::string_view m, std::string_view b) { return m == b; };
    CHECK(c.may_everywhere("Microsoft.DigitalTwins/digitaltwins/read"));
    CHECK_FALSE(c.may_everywhere("Microsoft.DigitalTwins/digitaltwins/write"));
    CHECK(c.may_on_twin("Microsoft.DigitalTwins/digitaltwins/write", "in-1", "m", is_a));
    CHECK_FALSE(c.may_on_twin("Microsoft.DigitalTwins/digitaltwins/write", "out-1", "m", is_a));
    Caller m{"carol", {{&reader, Scope{{"dtmi:a;1"}, {}}}}};
    CHECK(m.may_on_twin("Microsoft.DigitalTwins/digitaltwins/read", "x", "dtmi:a;1", is_a));
    CHECK_FALSE(m.may_on_twin("Microsoft.DigitalTwins/digitaltwins/read", "x", "dtmi:b;1", is_a));
    CHECK_FALSE(m.may_on_twin("Microsoft.DigitalTwins/digitaltwins/read", "x", "", is_a));

    CHECK_THROWS_AS(AccessPolicy::from_json(json{{"jwks", {{"keys", json::array()}}}}, "."), AccessConfigError);
    const json config{{"jwks", {{"keys", {{{"kty", "oct"}, {"k", base64url_encode(std::string(40, 'x'))}}}}}},
                      {"assignments", {{{"subject", "bob"}, {"role", "Nope"}}}}};
    CHECK_THROWS_WITH(AccessPolicy::from_json(config, "."), Catch::Contains("/assignments/0/role"));
}
