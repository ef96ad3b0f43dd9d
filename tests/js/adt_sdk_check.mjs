// Drives `twinsim serve` with the JavaScript Azure Digital Twins SDK
// (@azure/digital-twins-core): create, get, update, query and delete, and the
// SDK's error for a missing twin. Run by tests/python/test_service_js.py with
// TWINSIM_URL, TWINSIM_TOKEN and NODE_EXTRA_CA_CERTS (the test CA) set; prints
// one JSON object of what it saw.
import { DigitalTwinsClient } from "@azure/digital-twins-core";

const credential = {
  getToken: async () => ({ token: process.env.TWINSIM_TOKEN, expiresOnTimestamp: Date.now() + 3600 * 1000 }),
};
const client = new DigitalTwinsClient(process.env.TWINSIM_URL, credential);
const out = {};
const model = {
  "@context": "dtmi:dtdl:context;3", "@id": "dtmi:js:Room;1", "@type": "Interface",
  contents: [{ "@type": "Property", name: "temperature", schema: "double" }],
};
out.models = (await client.createModels([model])).map((m) => m.id);
const created = await client.upsertDigitalTwin("js-room", JSON.stringify({ $metadata: { $model: "dtmi:js:Room;1" }, temperature: 20 }));
out.created = created.body.$dtId;
out.etag = created.etag;
await client.updateDigitalTwin("js-room", [{ op: "replace", path: "/temperature", value: 21.5 }], { ifMatch: created.etag });
const got = await client.getDigitalTwin("js-room");
out.temperature = got.body.temperature;
out.etagChanged = got.etag !== created.etag;
out.query = [];
for await (const twin of client.queryTwins("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'js-room'")) out.query.push(twin.$dtId);
await client.deleteDigitalTwin("js-room");
try {
  await client.getDigitalTwin("js-room");
  out.missing = "found";
} catch (e) {
  out.missing = { statusCode: e.statusCode, code: e.code };
}
console.log(JSON.stringify(out));
