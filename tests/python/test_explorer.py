"""The browser explorer at /explorer (docs/explorer.md), driven in Debian's
chromium by Playwright (no browser download: executable_path). The server
runs with --auth on a test store; the tests sign in with an Owner and a
Reader token from `twinsim token` and check what a user relies on: the graph
draws the expected twins, a query narrows it, an edit reaches the store, a
live update appears, a Reader cannot edit and is told which action is
missing. Each view is saved as a screenshot in TWINSIM_SCREENSHOT_DIR (the
build directory's explorer-screenshots under CTest; not committed)."""

import datetime
import http.client
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest
import requests

from service_fixtures import CLI, Server, make_token_signer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

CONTEXT = "dtmi:dtdl:context;3"
SENSOR = {"@context": CONTEXT, "@id": "dtmi:test:Sensor;1", "@type": "Interface",
          "contents": [{"@type": "Telemetry", "name": "temperature", "schema": "double"}]}
ROOM = {"@context": CONTEXT, "@id": "dtmi:test:Room;1", "@type": "Interface", "extends": "dtmi:test:Sensor;1",
        "contents": [{"@type": "Property", "name": "setpoint", "schema": "double", "writable": True},
                     {"@type": "Property", "name": "label", "schema": "string"}]}
FLOOR = {"@context": CONTEXT, "@id": "dtmi:test:Floor;1", "@type": "Interface",
         "contents": [{"@type": "Property", "name": "level", "schema": "integer", "writable": True},
                      {"@type": "Relationship", "name": "contains", "target": "dtmi:test:Room;1"}]}
OWNER = "Azure Digital Twins Data Owner"
READER = "Azure Digital Twins Data Reader"
# Behaviour waits are generous (a loaded CI machine); the live latency is
# measured and printed, never asserted as wall time here.
WAIT_MS = 30000


def screenshots() -> pathlib.Path:
    folder = pathlib.Path(os.environ.get("TWINSIM_SCREENSHOT_DIR", "explorer-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explorer")
    auth, token = make_token_signer(folder)
    server = Server(folder / "store", extra=["--auth", str(auth)])
    owner = token("admin", OWNER)
    session = requests.Session()
    session.trust_env = False

    def call(method, path, body=None, headers=(), bearer=owner):
        h = {"Authorization": f"Bearer {bearer}", **dict(headers)}
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        sep = "&" if "?" in path else "?"
        data = None if body is None else json.dumps(body)
        return session.request(method, f"{server.url}{path}{sep}api-version=2023-10-31", data=data, headers=h)

    assert call("POST", "/models", [SENSOR, ROOM, FLOOR]).status_code == 201
    assert call("PUT", "/digitaltwins/floor-1", {"$metadata": {"$model": "dtmi:test:Floor;1"}, "level": 1}).ok
    for i in (1, 2, 3):
        assert call("PUT", f"/digitaltwins/room-{i}",
                    {"$metadata": {"$model": "dtmi:test:Room;1"}, "setpoint": 21.0, "label": f"Room {i}"}).ok
        assert call("PUT", f"/digitaltwins/floor-1/relationships/c{i}",
                    {"$relationshipName": "contains", "$targetId": f"room-{i}"}).ok
    yield {"server": server, "call": call, "owner": owner, "reader": token("viewer", READER)}
    server.stop()


@pytest.fixture(scope="module")
def browser():
    # scripts/run-tests installs both (the bootstrap's chromium package, the test extra's
    # playwright); without them this is a failure, not a skip.
    assert CHROMIUM, "chromium not found on PATH: run scripts/run-tests, which installs Debian's chromium"
    try:
        from playwright import sync_api as playwright_api
    except ImportError as e:
        raise AssertionError("playwright is not installed: run scripts/run-tests (the test extra holds it)") from e
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def open_page(browser, site, bearer, viewport=(1280, 800)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(site["server"].url + "/explorer/")
    page.fill("#token", bearer)
    page.click("#login button[type=submit]")
    return page, problems


def drawn(page):
    return sorted(page.evaluate("() => window.twinsimExplorer.graph().nodes().map((n) => n.id())"))


def wait_count(page, twins):
    page.wait_for_function(f"() => window.twinsimExplorer.graph().nodes().length === {twins} && "
                           "!document.querySelector('#count').textContent.startsWith('0')", timeout=WAIT_MS)


def test_static_files_are_served_safely(site):
    url = site["server"].url
    s = requests.Session()
    s.trust_env = False
    r = s.get(url + "/explorer", allow_redirects=False)
    assert r.status_code == 308 and r.headers["Location"] == "/explorer/"
    r = s.get(url + "/explorer/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    r = s.get(url + "/explorer/vendor/cytoscape.min.js")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    # sent as written (requests would remove the dot segments itself)
    host, port = url.removeprefix("http://").split(":")
    for bad in ("/explorer/../CMakeLists.txt", "/explorer/%2e%2e/%2e%2e/CMakeLists.txt", "/explorer/.gitignore",
                "/explorer/vendor/../../../CMakeLists.txt", "/explorer/index.html/", "/explorer/nothing.js",
                "/explorer//etc/passwd", "/explorer/vendor/%2fetc%2fpasswd"):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", bad)
        r = connection.getresponse()
        assert r.status == 404, bad
        assert json.loads(r.read())["error"]["code"] == "NotFound"
        connection.close()
    # the API still needs its token: the page alone grants nothing
    assert s.get(url + "/digitaltwins/room-1?api-version=2023-10-31").status_code == 401


def test_graph_query_edit_and_live_update(browser, site):
    call = site["call"]
    page, problems = open_page(browser, site, site["owner"])
    wait_count(page, 4)
    assert drawn(page) == ["floor-1", "room-1", "room-2", "room-3"]
    assert page.evaluate("() => window.twinsimExplorer.graph().edges().length") == 3
    # the model list holds each model with its DTDL
    assert page.locator("#models summary").all_inner_texts() == ["dtmi:test:Floor;1", "dtmi:test:Room;1",
                                                                  "dtmi:test:Sensor;1"]
    page.locator("#models summary", has_text="dtmi:test:Room;1").click()
    assert '"setpoint"' in page.locator("#models details[open] pre").inner_text()
    page.screenshot(path=str(screenshots() / "1-graph.png"))

    # a query narrows the graph
    page.fill("#query", "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Room;1')")
    page.keyboard.press("Control+Enter")
    wait_count(page, 3)
    assert drawn(page) == ["room-1", "room-2", "room-3"]
    page.click("#save-query")
    assert "IS_OF_MODEL" in page.locator("#saved").inner_text()
    page.screenshot(path=str(screenshots() / "2-query.png"))

    # expanding room-1 brings its floor back
    page.select_option("#twinlist", "room-1")
    page.wait_for_selector("#prop-setpoint")
    page.keyboard.press("Escape")
    page.select_option("#twinlist", "room-1")
    page.click("#expand")
    wait_count(page, 4)

    # an edit reaches the store, through a JSON Patch with If-Match
    page.select_option("#twinlist", "room-1")
    page.wait_for_selector("#prop-setpoint")
    assert page.locator("#prop-label").get_attribute("readonly") is not None  # not writable in the DTDL
    page.fill("#prop-setpoint", "23.5")
    page.click("#save-props")
    page.wait_for_function("() => document.querySelector('#patch').textContent.includes('If-Match')", timeout=WAIT_MS)
    sent = page.locator("#patch").inner_text()
    assert '"op": "replace"' in sent and '"path": "/setpoint"' in sent and "23.5" in sent
    deadline = time.monotonic() + WAIT_MS / 1000
    while call("GET", "/digitaltwins/room-1").json()["setpoint"] != 23.5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call("GET", "/digitaltwins/room-1").json()["setpoint"] == 23.5
    page.screenshot(path=str(screenshots() / "3-edit.png"))

    # another writer changes the twin while an edit is in progress: saving the
    # edit is refused (412, If-Match) and said in words; the store keeps the other value
    page.fill("#prop-setpoint", "30")
    assert call("PATCH", "/digitaltwins/room-1", [{"op": "replace", "path": "/setpoint", "value": 19.0}],
                {"Content-Type": "application/json-patch+json"}).status_code == 204
    page.wait_for_function("() => document.querySelector('#raw').textContent.includes('\"setpoint\": 19')", timeout=WAIT_MS)
    page.click("#save-props")
    page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    assert "412" in page.locator("#error").inner_text()
    assert call("GET", "/digitaltwins/room-1").json()["setpoint"] == 19.0

    # live: telemetry sent to the API shows on the twin (colour and value)
    page.wait_for_function("() => document.querySelector('#live').textContent === 'live: on'", timeout=WAIT_MS)
    sent_at = time.time() * 1000
    r = call("POST", "/digitaltwins/room-2/telemetry", {"temperature": 24.25}, {"Message-Id": "m-1"})
    assert r.status_code == 204, r.text
    page.wait_for_function("() => { const n = window.twinsimExplorer.graph().getElementById('room-2');"
                           " return n.hasClass('live') && n.data('label').includes('temperature=24.25'); }",
                           timeout=WAIT_MS)
    latency = page.evaluate("() => window.twinsimExplorer.state.lastEventAt") - sent_at
    print(f"live update shown {latency:.0f} ms after the telemetry POST was sent")
    page.screenshot(path=str(screenshots() / "4-live.png"))

    # a twin and a relationship created and deleted from the page
    page.click("#create-twin summary")
    page.fill("#nt-id", "room-9")
    page.select_option("#nt-model", "dtmi:test:Room;1")
    page.fill("#nt-body", '{"setpoint": 18}')
    page.click("#new-twin button[type=submit]")
    page.wait_for_function("() => window.twinsimExplorer.graph().getElementById('room-9').nonempty()", timeout=WAIT_MS)
    assert call("GET", "/digitaltwins/room-9").json()["setpoint"] == 18
    page.select_option("#twinlist", "floor-1")
    page.wait_for_selector("#prop-level")
    page.click("#create-rel summary")
    page.fill("#nr-name", "contains")
    page.fill("#nr-target", "room-9")
    page.fill("#nr-id", "c9")
    page.click("#new-rel button[type=submit]")
    page.wait_for_function("() => window.twinsimExplorer.graph().getElementById('rel:floor-1/c9').nonempty()",
                           timeout=WAIT_MS)
    assert call("GET", "/digitaltwins/floor-1/relationships/c9").json()["$targetId"] == "room-9"
    page.on("dialog", lambda d: d.accept())
    # a tap on the edge, as a mouse would (returns nothing: a cytoscape collection is slow to serialise)
    page.evaluate("() => { window.twinsimExplorer.graph().getElementById('rel:floor-1/c9').emit('tap'); }")
    page.wait_for_function("() => document.querySelector('#sel-title').textContent.startsWith('Relationship c9')")
    page.click("#delete")
    page.wait_for_function("() => window.twinsimExplorer.graph().getElementById('rel:floor-1/c9').empty()",
                           timeout=WAIT_MS)
    assert call("GET", "/digitaltwins/floor-1/relationships/c9").status_code == 404
    page.select_option("#twinlist", "room-9")
    page.wait_for_selector("#prop-setpoint")
    page.locator("body").focus()
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("Delete")  # the keyboard path
    page.wait_for_function("() => window.twinsimExplorer.graph().getElementById('room-9').empty()", timeout=WAIT_MS)
    assert call("GET", "/digitaltwins/room-9").status_code == 404

    # keyboard: N moves through the twins, E expands
    page.keyboard.press("n")
    page.wait_for_function("() => document.querySelector('#sel-title').textContent.startsWith('Twin ')")
    assert problems == []

    narrow = browser.new_page(viewport={"width": 420, "height": 900})
    narrow.goto(site["server"].url + "/explorer/")
    narrow.fill("#token", site["owner"])
    narrow.click("#login button[type=submit]")
    wait_count(narrow, 4)
    narrow.screenshot(path=str(screenshots() / "5-narrow.png"), full_page=True)
    narrow.close()
    page.close()


def positions(page):
    """Each drawn twin's model position, rounded to a tenth of a pixel."""
    return page.evaluate("() => Object.fromEntries(window.twinsimExplorer.graph().nodes().map((n) =>"
                         " [n.id(), [Math.round(n.position('x') * 10) / 10, Math.round(n.position('y') * 10) / 10]]))")


def test_layouts_rearrange_the_graph_from_the_selector_and_the_l_key(browser, site):
    page, problems = open_page(browser, site, site["owner"])
    wait_count(page, 4)
    # grid: four twins on a lattice of equally spaced rows and columns (how many
    # of each follows the window's shape), every one at its own place
    page.select_option("#layout", "grid")
    grid = positions(page)
    assert len({tuple(p) for p in grid.values()}) == 4
    for axis in (0, 1):
        lines = sorted({p[axis] for p in grid.values()})
        steps = [b - a for a, b in zip(lines, lines[1:])]
        assert all(abs(s - steps[0]) < 0.5 for s in steps), (axis, lines)
    # circle: every twin at the same distance from their centre
    page.select_option("#layout", "circle")
    circle = positions(page)
    cx = sum(x for x, _ in circle.values()) / 4
    cy = sum(y for _, y in circle.values()) / 4
    radii = [((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 for x, y in circle.values()]
    assert min(radii) > 1 and max(radii) - min(radii) < 0.01 * max(radii), radii
    assert circle != grid
    # breadthfirst: the floor is above the three rooms it contains, which share a row
    page.select_option("#layout", "breadthfirst")
    tree = positions(page)
    assert len({tree[f"room-{i}"][1] for i in (1, 2, 3)}) == 1
    assert tree["floor-1"][1] < tree["room-1"][1]
    # the L key (focus outside any field) moves to the next layout and applies it
    page.locator("#cy").click(position={"x": 5, "y": 5})
    page.keyboard.press("l")
    assert page.locator("#layout").input_value() == "grid"
    assert positions(page) == grid
    # the graph is still whole and nothing failed in the page
    assert drawn(page) == ["floor-1", "room-1", "room-2", "room-3"]
    page.screenshot(path=str(screenshots() / "layout-grid.png"))
    assert problems == []
    page.close()


def test_reader_cannot_edit_and_is_told_why(browser, site):
    page, problems = open_page(browser, site, site["reader"])
    wait_count(page, 4)
    page.select_option("#twinlist", "room-3")
    page.wait_for_selector("#prop-setpoint")
    page.fill("#prop-setpoint", "99")
    page.click("#save-props")
    page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    text = page.locator("#error").inner_text()
    assert "403" in text and "Microsoft.DigitalTwins/digitaltwins/write" in text, text
    assert "Data Owner" in text
    assert site["call"]("GET", "/digitaltwins/room-3").json()["setpoint"] == 21.0
    page.screenshot(path=str(screenshots() / "6-reader-403.png"))
    # a wrong token: 401 in words
    page.fill("#token", "not-a-token")
    page.click("#login button[type=submit]")
    page.wait_for_function("() => document.querySelector('#error').textContent.includes('401')", timeout=WAIT_MS)
    assert problems == []
    page.close()


def test_time_travel_shows_an_older_value(browser, site):
    call = site["call"]
    before = call("GET", "/digitaltwins/room-2").json()
    time.sleep(0.05)
    then = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    time.sleep(0.05)
    assert call("PATCH", "/digitaltwins/room-2", [{"op": "replace", "path": "/setpoint", "value": 27.0}],
                {"Content-Type": "application/json-patch+json"}).status_code == 204
    page, problems = open_page(browser, site, site["owner"])
    wait_count(page, 4)
    page.fill("#asof", then)
    page.press("#asof", "Enter")
    page.wait_for_function("() => window.twinsimExplorer.state.asOf !== null", timeout=WAIT_MS)
    wait_count(page, 4)
    page.select_option("#twinlist", "room-2")
    page.wait_for_selector("#prop-setpoint")
    assert float(page.input_value("#prop-setpoint")) == before["setpoint"] != 27.0
    assert page.locator("#prop-setpoint").get_attribute("readonly") is not None  # the past is read-only
    assert " as of " in page.locator("#sel-title").inner_text()
    page.screenshot(path=str(screenshots() / "7-time-travel.png"))
    # the slider's left end (an hour ago) is before the twins existed: an empty graph
    page.focus("#slider")
    page.keyboard.press("Home")
    page.wait_for_function("() => window.twinsimExplorer.graph().nodes().length === 0 && "
                           "document.querySelector('#count').textContent.startsWith('0 twins')", timeout=WAIT_MS)
    # back to now (T): the current value, editable again
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("t")
    wait_count(page, 4)
    page.select_option("#twinlist", "room-2")
    page.wait_for_function("() => document.querySelector('#prop-setpoint') && "
                           "document.querySelector('#prop-setpoint').value === '27'", timeout=WAIT_MS)
    assert page.locator("#prop-setpoint").get_attribute("readonly") is None
    # a malformed time is said in words and changes nothing
    page.fill("#asof", "yesterday")
    page.press("#asof", "Enter")
    assert "RFC 3339" in page.locator("#error").inner_text()
    s = requests.Session()
    s.trust_env = False
    r = s.post(site["server"].url + "/query?api-version=2023-10-31&as-of=yesterday", json={"query": "SELECT * FROM DIGITALTWINS"},
               headers={"Authorization": "Bearer " + site["owner"]})
    assert r.status_code == 400 and "RFC 3339" in r.json()["error"]["message"]
    assert problems == []
    page.close()


# --- what-if results (twinsim serve --results DIR) ----------------------------------------

PRODUCTION = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2])) / "scenarios" / "production"


@pytest.fixture(scope="module")
def whatif(tmp_path_factory):
    """The sample plant in a store, and a results file `twinsim run` wrote for the bundled capacity
    sweep (24 configurations; 2 replications each to keep the test short) in the server's --results DIR."""
    folder = tmp_path_factory.mktemp("whatif")
    store = folder / "store"
    made = subprocess.run([CLI, "import", "--store", str(store), str(PRODUCTION / "plant.ndjson")],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    results = folder / "results"
    results.mkdir()
    ran = subprocess.run([CLI, "run", str(PRODUCTION / "capacity-sweep.yaml"), "--replications", "2", "-q",
                          "-o", str(results / "capacity.h5")], capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stderr
    (results / "notes.txt").write_text("not a results file", encoding="utf-8")
    (results / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    (folder / "outside.h5").write_bytes((results / "capacity.h5").read_bytes())
    (results / "link.h5").symlink_to(folder / "outside.h5")
    auth, token = make_token_signer(folder)
    server = Server(store, extra=["--auth", str(auth), "--results", str(results)])
    yield {"server": server, "reader": token("viewer", READER), "results": results}
    server.stop()


def test_results_api_lists_describes_compares_and_confines(whatif):
    s = requests.Session()
    s.trust_env = False
    base = whatif["server"].url

    def get(path, bearer=whatif["reader"], **params):
        return s.get(base + path, params={"api-version": "2023-10-31", **params},
                     headers={"Authorization": f"Bearer {bearer}"} if bearer else {})

    assert get("/results", bearer=None).status_code == 401
    listed = get("/results")
    assert listed.status_code == 200, listed.text
    assert [f["name"] for f in listed.json()["value"]] == ["broken.h5", "capacity.h5"]  # not notes.txt, not the link out
    described = get("/results/capacity.h5").json()
    scenarios = described["scenarios"]
    assert len(scenarios) == 24 and all(sc["replications"] == 2 for sc in scenarios)
    utilisation = next(k for k in scenarios[0]["kpis"] if k["name"] == "utilisation")
    stations = {sel["selection"] for sel in utilisation["selections"]}
    assert len(stations) > 3 and all(0 <= sel["mean"] <= 1 for sel in utilisation["selections"])
    assert [sr["name"] for sr in scenarios[0]["series"]] and all(sr["twins"] == ["plant"] for sr in scenarios[0]["series"])
    # the numbers are `twinsim compare`'s
    cli = json.loads(subprocess.run([CLI, "compare", str(whatif["results"] / "capacity.h5"), "--json"],
                                    capture_output=True, text=True, timeout=300, check=True).stdout)
    served = get("/results/capacity.h5/comparison").json()
    assert served["baseline"] == cli["baseline"] and served["scenarios"] == cli["scenarios"]
    series = scenarios[0]["series"][0]["name"]
    spark = get("/results/capacity.h5/sparkline", scenario=scenarios[0]["name"], series=series, twin="plant",
                points=20).json()
    assert spark["replications"] == 2 and spark["steps"] >= 90 and len(spark["mean"]) == 20
    assert all(lo <= m <= hi for lo, m, hi in zip(spark["low"], spark["mean"], spark["high"]) if m is not None)
    # errors in words
    errors = {
        ("/results/nothing.h5", ()): (404, "ResultsFileNotFound"),
        ("/results/notes.txt", ()): (422, "InvalidResultsFile"),
        ("/results/broken.h5", ()): (422, "InvalidResultsFile"),
        ("/results/link.h5", ()): (400, "InvalidArgument"),
        ("/results/%2e%2e", ()): (400, "InvalidArgument"),  # requests would resolve a plain ..
        ("/results/capacity.h5/comparison", (("baseline", "nope"),)): (404, "ScenarioNotFound"),
        ("/results/capacity.h5/sparkline", (("scenario", scenarios[0]["name"]), ("series", series), ("twin", "c-heat"))):
            (404, "TwinNotRecorded"),
        ("/results/capacity.h5/sparkline", (("scenario", scenarios[0]["name"]), ("series", "x"), ("twin", "plant"))):
            (404, "SeriesNotFound"),
        ("/results/capacity.h5/sparkline", (("scenario", scenarios[0]["name"]), ("series", series), ("twin", "plant"),
                                            ("points", "0"))): (400, "InvalidArgument"),
    }
    for (path, params), (status, code) in errors.items():
        r = get(path, **dict(params))
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, r.text)
    assert "outside the results directory" in get("/results/link.h5").json()["error"]["message"]
    assert "c-heat" in get("/results/capacity.h5/sparkline", scenario=scenarios[0]["name"], series=series,
                           twin="c-heat").json()["error"]["message"]


def test_whatif_view_colours_twins_draws_a_sparkline_and_compares_scenarios(browser, whatif):
    page, problems = open_page(browser, whatif, whatif["reader"])
    page.wait_for_function("() => window.twinsimExplorer.graph().nodes().length > 20", timeout=WAIT_MS)
    page.wait_for_function("() => [...document.querySelectorAll('#rfile option')].some((o) => o.value === 'capacity.h5')",
                           timeout=WAIT_MS)
    # keyboard: R goes to the results file
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("r")
    assert page.evaluate("() => document.activeElement.id") == "rfile"
    page.select_option("#rfile", "capacity.h5")
    page.wait_for_function("() => document.querySelectorAll('#rscenario option').length === 24", timeout=WAIT_MS)
    scenario = page.locator("#rscenario option").nth(5).get_attribute("value")
    page.select_option("#rscenario", scenario)
    page.select_option("#rkpi", "utilisation")
    page.wait_for_function("() => !document.querySelector('#legend').hidden", timeout=WAIT_MS)
    coloured = page.evaluate("""() => window.twinsimExplorer.graph().nodes('[color]').map((n) =>
        [n.id(), n.style('background-color'), n.data('label')])""")
    described = requests.get(whatif["server"].url + "/results/capacity.h5?api-version=2023-10-31",
                             headers={"Authorization": "Bearer " + whatif["reader"]}).json()
    kpi = next(k for k in next(sc for sc in described["scenarios"] if sc["name"] == scenario)["kpis"]
               if k["name"] == "utilisation")
    means = {sel["selection"]: sel["mean"] for sel in kpi["selections"]}
    assert sorted(i for i, _, _ in coloured) == sorted(means)  # every station, nothing else
    assert len({c for _, c, _ in coloured}) > 1  # coloured by value, not all alike
    lowest = min(means, key=means.get)
    highest = max(means, key=means.get)
    colour = {i: c for i, c, _ in coloured}
    assert colour[lowest] == "rgb(44,123,182)" and colour[highest] == "rgb(215,25,28)"
    assert all("utilisation" in label for _, _, label in coloured)
    assert page.locator("#legend-text").inner_text().startswith(f"{len(means)} twins coloured by utilisation")
    # the plant's recorded series as a sparkline
    page.select_option("#twinlist", "plant")
    page.wait_for_function("() => document.querySelector('#sparkline-mean') && "
                           "document.querySelector('#sparkline-mean').getAttribute('points').split(' ').length > 50",
                           timeout=WAIT_MS)
    assert "mean of 2 replications" in page.locator("#spark-text").inner_text()
    # the comparison table shows every scenario, the chosen one marked
    rows = page.locator("#compare tbody tr")
    assert rows.count() == 24
    assert page.locator("#compare tbody tr.current").get_attribute("data-scenario") == scenario
    assert "baseline" in page.locator("#compare").inner_text()
    page.screenshot(path=str(screenshots() / "8-whatif.png"))
    # a station selected: the table compares its utilisation across the scenarios
    page.select_option("#twinlist", highest)
    page.wait_for_function(f"() => document.querySelector('#compare-caption').textContent.startsWith('utilisation of {highest}')",
                           timeout=WAIT_MS)
    assert "records no series" in page.locator("#spark-text").inner_text()
    # a click on a row shows that scenario
    other = page.locator("#compare tbody tr").nth(0)
    other_name = other.get_attribute("data-scenario")
    assert other_name != scenario
    other.locator("button").click()
    page.wait_for_function(f"() => document.querySelector('#rscenario').value === {json.dumps(other_name)}", timeout=WAIT_MS)
    assert problems == []
    page.close()

    narrow, problems = open_page(browser, whatif, whatif["reader"], viewport=(420, 900))
    narrow.wait_for_function("() => [...document.querySelectorAll('#rfile option')].some((o) => o.value === 'capacity.h5')",
                             timeout=WAIT_MS)
    narrow.select_option("#rfile", "capacity.h5")
    narrow.wait_for_function("() => document.querySelectorAll('#rscenario option').length === 24", timeout=WAIT_MS)
    narrow.select_option("#rkpi", "utilisation")
    narrow.select_option("#twinlist", "plant")
    narrow.wait_for_selector("#sparkline-mean", timeout=WAIT_MS)
    # readable on a narrow window: nothing wider than the window
    assert narrow.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    narrow.screenshot(path=str(screenshots() / "9-whatif-narrow.png"), full_page=True)
    assert problems == []
    narrow.close()
