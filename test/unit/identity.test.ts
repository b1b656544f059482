import { describe, expect, it } from "vitest";
import { identityConflict, participantFromPath } from "../../src/session/identity.js";

describe("participantFromPath", () => {
  it("reads the id of every upgrade path, percent-decoded", () => {
    expect(participantFromPath("/v1/participants/alice/stream")).toBe("alice");
    expect(participantFromPath("/v1/participants/room%3Aalice/sfu/video")).toBe("room:alice");
    expect(participantFromPath("/v1/participants/b.2_x-y/sfu/audio")).toBe("b.2_x-y");
  });

  it("refuses other paths and ids outside the alphabet", () => {
    expect(participantFromPath("/v1/participants/alice")).toBeNull();
    expect(participantFromPath("/v1/participants/a%2Fb/stream")).toBeNull();
    expect(participantFromPath("/v1/participants/%E0%A4%A/stream")).toBeNull();
    expect(participantFromPath(`/v1/participants/${"x".repeat(129)}/stream`)).toBeNull();
  });
});

describe("identityConflict", () => {
  it("serves the stored participant whether or not the runtime knows the object's name", () => {
    expect(identityConflict("alice", { stored: "alice", addressedAs: undefined })).toBeNull();
    expect(identityConflict("alice", { stored: "alice", addressedAs: "alice" })).toBeNull();
    expect(identityConflict("alice", { stored: undefined, addressedAs: undefined })).toBeNull();
    expect(identityConflict(undefined, { stored: "alice", addressedAs: undefined })).toBeNull();
  });

  it("refuses a call for another participant with 409", () => {
    expect(identityConflict("bob", { stored: "alice", addressedAs: undefined })).toMatchObject({ status: 409, error: "wrong_participant" });
    expect(identityConflict("bob", { stored: undefined, addressedAs: "alice" })).toMatchObject({ status: 409 });
  });
});
