/** The Worker's SQS settings: what each combination of SQS_* / AWS_* variables turns into. */
import { describe, expect, it } from "vitest";
import { readSqsSettings, regionOfQueueUrl } from "../../infra/worker/sqs.js";

const KEYS = { AWS_ACCESS_KEY_ID: "AKIAFAULTLINETEST01", AWS_SECRET_ACCESS_KEY: "c2VjcmV0" };
const AWS_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/faultline-control-plane";

describe("readSqsSettings", () => {
  it.each([
    ["no queue URL", {}, { status: "unset" }],
    ["a blank queue URL", { SQS_QUEUE_URL: "  " }, { status: "unset" }],
    [
      "an AWS queue URL: region from the URL, JSON protocol",
      { SQS_QUEUE_URL: AWS_URL, ...KEYS },
      {
        status: "ok",
        settings: {
          queueUrl: AWS_URL,
          region: "eu-central-1",
          protocol: "json",
          accessKeyId: "AKIAFAULTLINETEST01",
          secretAccessKey: "c2VjcmV0",
        },
      },
    ],
    [
      "a local sqslite queue with the query protocol",
      {
        SQS_QUEUE_URL: "http://localhost:4576/queues/faultline-control-plane",
        SQS_ENDPOINT: "http://localhost:4576",
        SQS_PROTOCOL: "Query",
        SQS_REGION: "us-east-1",
        ...KEYS,
      },
      {
        status: "ok",
        settings: {
          queueUrl: "http://localhost:4576/queues/faultline-control-plane",
          region: "us-east-1",
          endpoint: "http://localhost:4576",
          protocol: "query",
          accessKeyId: "AKIAFAULTLINETEST01",
          secretAccessKey: "c2VjcmV0",
        },
      },
    ],
    [
      "SQS_REGION overriding the URL's region",
      { SQS_QUEUE_URL: AWS_URL, SQS_REGION: "eu-west-1", ...KEYS },
      { status: "ok", settings: expect.objectContaining({ region: "eu-west-1" }) },
    ],
    [
      "a custom endpoint's queue URL without SQS_REGION",
      { SQS_QUEUE_URL: "http://127.0.0.1:9324/000000000000/q", ...KEYS },
      { status: "invalid", message: "SQS_REGION: expected an AWS region such as us-east-1" },
    ],
    [
      "no credentials",
      { SQS_QUEUE_URL: AWS_URL },
      {
        status: "invalid",
        message:
          "AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID is required (Workers have no default credential chain); AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY is required",
      },
    ],
    [
      "an unknown protocol",
      { SQS_QUEUE_URL: AWS_URL, SQS_PROTOCOL: "cbor", ...KEYS },
      { status: "invalid", message: 'SQS_PROTOCOL: Invalid option: expected one of "json"|"query"' },
    ],
    [
      "a queue name instead of a URL",
      { SQS_QUEUE_URL: "faultline-control-plane", SQS_REGION: "us-east-1", ...KEYS },
      { status: "invalid", message: "SQS_QUEUE_URL: Invalid URL" },
    ],
  ])("reads %s", (_name, env, expected) => {
    expect(readSqsSettings(env)).toEqual(expected);
  });
});

describe("regionOfQueueUrl", () => {
  it.each([
    ["https://sqs.us-east-1.amazonaws.com/123456789012/q", "us-east-1"],
    ["https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"],
    ["https://ap-southeast-2.queue.amazonaws.com/123456789012/q", "ap-southeast-2"],
    ["http://localhost:4576/queues/q", null],
    ["not a url", null],
  ])("finds the region of %s: %s", (url, region) => {
    expect(regionOfQueueUrl(url)).toBe(region);
  });
});
