// `twinsim token`: issues a bearer token for `twinsim serve` from a key file
// (an RSA private key in PEM: RS256; a JWKS holding a secret: HS256), or
// prints the public key set the server's auth file needs (--jwks).

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model_input.hpp"
#include "serve_commands.hpp"
#include "twinsim/service/jwt.hpp"

namespace twinsim::cli {
namespace {

struct TokenOptions {
    std::string key;
    std::string kid;
    std::string subject = "twinsim-user";
    std::vector<std::string> roles;
    std::string audience = "https://digitaltwins.azure.net";
    std::string issuer = "twinsim";
    long long expires_in = 3600;
    long long not_before_in = 0;
    std::string alg;
    bool jwks = false;
};

int run_token(const TokenOptions& o) {
    service::KeySet keys;
    try {
        keys = service::KeySet::load(o.key, o.kid);
    } catch (const service::KeyError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
    if (o.jwks) {
        std::cout << keys.public_jwks().dump(2) << '\n';
        return 0;
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    nlohmann::json claims{{"sub", o.subject}, {"aud", o.audience}, {"iss", o.issuer}, {"iat", now},
                          {"exp", now + o.expires_in}};
    if (o.not_before_in != 0) claims["nbf"] = now + o.not_before_in;
    if (!o.roles.empty()) claims["roles"] = o.roles;
    try {
        std::cout << service::sign_token(keys, claims, o.alg) << '\n';
    } catch (const service::KeyError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
    return 0;
}

}  // namespace

Command add_token_command(CLI::App& app) {
    auto o = std::make_shared<TokenOptions>();
    CLI::App* cmd = app.add_subcommand("token", "Issue a bearer token (JWT) for twinsim serve from a key file (docs/service.md)");
    cmd->add_option("--key", o->key, "RSA private key (PEM) for RS256, or a JWKS file with a secret (oct) key for HS256")
        ->required();
    cmd->add_option("--kid", o->kid, "Key id written in the token header (a PEM key's; default twinsim-1)");
    cmd->add_option("--sub", o->subject, "Subject (the caller, as assignments name it)")->capture_default_str();
    cmd->add_option("--role", o->roles, "A role the token carries in its roles claim (repeatable)");
    cmd->add_option("--audience", o->audience, "aud claim")->capture_default_str();
    cmd->add_option("--issuer", o->issuer, "iss claim")->capture_default_str();
    cmd->add_option("--expires-in", o->expires_in, "Seconds until exp (negative: already expired)")->capture_default_str();
    cmd->add_option("--not-before-in", o->not_before_in, "Seconds from now to nbf (0: no nbf)");
    cmd->add_option("--alg", o->alg, "RS256 or HS256 (default: the key's)")->check(CLI::IsMember({"RS256", "HS256"}));
    cmd->add_flag("--jwks", o->jwks, "Print the public key set (JWKS) of --key instead of a token");
    return {cmd, [o] { return run_token(*o); }};
}

}  // namespace twinsim::cli
