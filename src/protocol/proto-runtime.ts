/**
 * Pins protobufjs to plain Uint8Array readers and writers. With a Node `Buffer` global (nodejs_compat,
 * which the Workers test pool turns on) it would switch to its Buffer writer, whose string writes
 * fail under workerd's Buffer; the Uint8Array writer behaves the same everywhere. Import this module
 * from every module that encodes protobuf on the server.
 */
import $protobuf from "protobufjs/minimal.js";

($protobuf.util as { Buffer: unknown }).Buffer = null;
$protobuf.configure();
