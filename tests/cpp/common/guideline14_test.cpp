// ASHRAE Guideline 14 statistics (sim/common/guideline14.hpp) against values
// computed by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/common/guideline14.hpp"

using namespace twinsim;

TEST_CASE("guideline14: NMBE and CV(RMSE) with the n - p denominators, against hand values", "[guideline14]") {
    // errors y - ŷ: -1, 1, -1, 2 -> Σe = 1, Σe² = 7; ȳ = 13; n = 4.
    const std::vector<double> measured{10, 12, 14, 16};
    const std::vector<double> modelled{11, 11, 15, 14};
    const Guideline14 g = guideline14(measured, modelled);  // p = 1
    CHECK(g.hours == 4);
    CHECK(g.mean_measured == Approx(13.0));
    CHECK(g.nmbe == Approx(100.0 * 1.0 / (3.0 * 13.0)).epsilon(1e-12));             // 2.564 %
    CHECK(g.cv_rmse == Approx(100.0 * std::sqrt(7.0 / 3.0) / 13.0).epsilon(1e-12));  // 11.750 %
    CHECK(g.nmbe == Approx(2.5641025641));
    CHECK(g.cv_rmse == Approx(11.7501940));
    CHECK(g.meets());

    Guideline14Options plain;
    plain.parameters = 0;
    const Guideline14 g0 = guideline14(measured, modelled, plain);
    CHECK(g0.nmbe == Approx(1.9230769231));
    CHECK(g0.cv_rmse == Approx(10.1759666));

    // A model 15 % low everywhere: NMBE fails, CV(RMSE) passes.
    const std::vector<double> low{8.5, 10.2, 11.9, 13.6};
    const Guideline14 b = guideline14(measured, low, plain);
    CHECK(b.nmbe == Approx(15.0));
    CHECK_FALSE(b.nmbe_ok);
    CHECK(b.cv_rmse_ok);
    CHECK_FALSE(b.meets());
    // A sign convention: over-prediction gives a negative NMBE.
    const std::vector<double> high{11.5, 13.8, 16.1, 18.4};
    CHECK(guideline14(measured, high, plain).nmbe == Approx(-15.0));
}

TEST_CASE("guideline14: NaN pairs are left out; too few values give NaN and no pass", "[guideline14]") {
    const double nan = std::nan("");
    const Guideline14 g = guideline14(std::vector<double>{10, nan, 12, 14, 16}, std::vector<double>{11, 5, 11, 15, 14});
    CHECK(g.hours == 4);
    CHECK(g.nmbe == Approx(2.5641025641));
    const Guideline14 one = guideline14(std::vector<double>{10}, std::vector<double>{11});
    CHECK(one.hours == 1);
    CHECK(std::isnan(one.nmbe));
    CHECK_FALSE(one.meets());
    const Guideline14 zero = guideline14(std::vector<double>{1, -1, 0}, std::vector<double>{1, -1, 0});
    CHECK(std::isnan(zero.cv_rmse));  // ȳ = 0
    CHECK_THROWS_AS(guideline14(std::vector<double>{1, 2}, std::vector<double>{1}), UsageError);
}

TEST_CASE("guideline14: samples are averaged per UTC clock hour before the statistics", "[guideline14]") {
    const Timestamp origin = *parse_timestamp("2026-07-15T00:30:00Z");
    // 00:30, 00:45 | 01:00, 01:15, 01:30 | 02:00 (modelled NaN: the hour is left out)
    const std::vector<double> times{0, 900, 1800, 2700, 3600, 5400};
    const std::vector<double> measured{20, 22, 24, 26, 28, 30};
    const std::vector<double> modelled{21, 21, 23, 23, 29, std::nan("")};
    const HourlyPairs h = hourly_pairs(origin, times, measured, modelled);
    REQUIRE(h.hour.size() == 2);
    CHECK(h.hour[0] == *parse_timestamp("2026-07-15T00:00:00Z"));
    CHECK(h.hour[1] == *parse_timestamp("2026-07-15T01:00:00Z"));
    CHECK(h.measured[0] == Approx(21.0));
    CHECK(h.modelled[0] == Approx(21.0));
    CHECK(h.measured[1] == Approx(26.0));
    CHECK(h.modelled[1] == Approx(25.0));

    // Per twin and overall: twin a as above, twin b exact.
    // overall pools the hourly pairs: a (21 vs 21, 26 vs 25), b (21 vs 21, 26 vs 26).
    std::vector<double> y, m;
    for (std::size_t k = 0; k < times.size(); ++k) {
        y.push_back(measured[k]), y.push_back(measured[k]);
        m.push_back(modelled[k]), m.push_back(measured[k]);
    }
    Guideline14Options plain;
    plain.parameters = 0;
    const Guideline14Report r = guideline14_report(origin, times, {"a", "b"}, y, m, plain);
    REQUIRE(r.per_twin.size() == 2);
    CHECK(r.per_twin[0].hours == 2);
    CHECK(r.per_twin[0].nmbe == Approx(100.0 * 1.0 / (2 * 23.5)));
    CHECK(r.per_twin[1].hours == 3);  // b has its 02:00 hour
    CHECK(r.per_twin[1].nmbe == Approx(0.0).margin(1e-12));
    CHECK(r.overall.hours == 5);
    const double ybar = (21 + 26 + 21 + 26 + 30) / 5.0;
    CHECK(r.overall.nmbe == Approx(100.0 * 1.0 / (5 * ybar)));
    CHECK(r.overall.cv_rmse == Approx(100.0 * std::sqrt(1.0 / 5) / ybar));
}
