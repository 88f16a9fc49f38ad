// Creates a blob container in the Azurite of this pod through the Blob service's REST API, signed with the
// development account's Shared Key (Azurite has no option to create containers at start).
// Usage: node azurite-container.js NAME   (201 created, or 409 when it exists: both succeed)
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const https = require("https");

const account = "devstoreaccount1";
const key = Buffer.from(
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
  "base64",
);
const container = process.argv[2];
const path = `/${account}/${container}`;
const date = new Date().toUTCString();
const version = "2021-08-06";
const stringToSign = [
  "PUT", "", "", "", "", "", "", "", "", "", "", "",
  `x-ms-date:${date}`,
  `x-ms-version:${version}`,
  `/${account}${path}\nrestype:container`,
].join("\n");
const signature = crypto.createHmac("sha256", key).update(stringToSign, "utf8").digest("base64");
const request = https.request(
  {
    host: "127.0.0.1",
    port: 10000,
    servername: "objstore",
    ca: fs.readFileSync("/tls/ca.crt"),
    method: "PUT",
    path: `${path}?restype=container`,
    headers: {
      "x-ms-date": date,
      "x-ms-version": version,
      "Content-Length": 0,
      Authorization: `SharedKey ${account}:${signature}`,
    },
  },
  (response) => {
    let body = "";
    response.on("data", (chunk) => (body += chunk));
    response.on("end", () => {
      const ok = response.statusCode === 201 || response.statusCode === 409;
      console.log(`container ${container}: ${response.statusCode}`);
      if (!ok) {
        console.error(body);
        process.exit(1);
      }
    });
  },
);
request.on("error", (error) => {
  console.error(error.message);
  process.exit(1);
});
request.end();
