/**
 * The committed Python stubs of the control API (examples/python/stubs/, made by gen_stubs.sh) are
 * those of today's proto: the file descriptor serialized into control_pb2.py describes the same
 * messages, fields, enums and service as proto/privagg/v1/control.proto compiled here with the pinned
 * protoc, and control_pb2_grpc.py calls every method of the service by its path. A proto edit without
 * `examples/python/gen_stubs.sh` fails here (no Python needed to run this test).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import {
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';

const STUBS = 'examples/python/stubs/privagg/v1';

/** The bytes of a Python bytes literal's body (the escapes `repr` and protoc's generator write). */
function pythonBytes(body: string): Uint8Array {
  const out: number[] = [];
  const simple: Record<string, number> = {
    n: 10,
    r: 13,
    t: 9,
    '\\': 92,
    "'": 39,
    '"': 34,
    a: 7,
    b: 8,
    f: 12,
    v: 11,
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      continue;
    }
    const next = body[++i]!;
    if (next === 'x') {
      out.push(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out.push(Number.parseInt(octal, 8));
      i += octal.length - 1;
    } else if (simple[next] !== undefined) {
      out.push(simple[next]);
    } else {
      throw new Error(`unknown escape \\${next}`);
    }
  }
  return Uint8Array.from(out);
}

/** What the stubs depend on, as comparable plain data. */
function shape(file: FileDescriptorProto) {
  return {
    package: file.package,
    messages: file.messageType.map((m) => ({
      name: m.name,
      oneofs: m.oneofDecl.map((o) => o.name),
      fields: m.field.map((f) => ({
        name: f.name,
        number: f.number,
        type: f.type,
        label: f.label,
        typeName: f.typeName,
        oneofIndex: isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) ? f.oneofIndex : undefined,
      })),
    })),
    enums: file.enumType.map((e) => ({ name: e.name, values: e.value.map((v) => [v.name, v.number]) })),
    services: file.service.map((s) => ({
      name: s.name,
      methods: s.method.map((m) => [m.name, m.inputType, m.outputType, m.clientStreaming, m.serverStreaming]),
    })),
  };
}

describe('the Python stubs of the control API', () => {
  it('describe the same proto as proto/privagg/v1/control.proto', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privagg-pystubs-'));
    try {
      const require = createRequire(import.meta.url);
      const protoc = join(dirname(require.resolve('protoc/package.json')), 'protoc.cjs');
      const set = join(dir, 'control.pb');
      const result = spawnSync(
        process.execPath,
        [protoc, '--proto_path=proto', `--descriptor_set_out=${set}`, 'privagg/v1/control.proto'],
        { encoding: 'utf8' },
      );
      assert.equal(result.status, 0, result.stderr);
      const expected = fromBinary(FileDescriptorSetSchema, readFileSync(set)).file[0]!;

      const python = readFileSync(join(STUBS, 'control_pb2.py'), 'utf8');
      const literal = /AddSerializedFile\(b'((?:[^'\\]|\\.)*)'\)/.exec(python);
      assert.ok(literal, 'control_pb2.py has a serialized file descriptor');
      const committed = fromBinary(FileDescriptorProtoSchema, pythonBytes(literal[1]!));
      assert.equal(committed.name, 'privagg/v1/control.proto');
      assert.deepEqual(shape(committed), shape(expected));

      const grpcStub = readFileSync(join(STUBS, 'control_pb2_grpc.py'), 'utf8');
      for (const method of expected.service[0]!.method) {
        assert.ok(
          grpcStub.includes(`'/privagg.v1.AggregationControl/${method.name}'`),
          `control_pb2_grpc.py calls ${method.name}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
