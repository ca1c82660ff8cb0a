// Schemas and topics of segwithu-live MCAP recordings.
//
// Every channel uses message encoding "protobuf" with schema encoding "protobuf", whose schema
// data is a serialized google.protobuf.FileDescriptorSet, the form Foxglove and the mcap tools
// read. Our own messages come from proto/segwithu.proto. Images use Foxglove's published
// foxglove.RawImage schema, so Foxglove shows the frame, the label mask and the
// error-probability map without any extension.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import foxgloveSchemas from '@foxglove/schemas/internal.js';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';

/** Channel topics, one per kind of message; a recording contains one stream. */
export const TOPICS = {
  /** segwithu.v1.Frame: sequence, capture time, size and spacing. Its pixels are on /frame/image. */
  frame: '/frame',
  /** foxglove.RawImage mono8: the frame as 8-bit grey at frame resolution. */
  frameImage: '/frame/image',
  /** segwithu.v1.Result: the pipeline's result, maps included, at model resolution. */
  result: '/result',
  /** foxglove.RawImage mono8 at model resolution: 0 = background, 255 = any structure class. */
  labelMask: '/result/label_mask',
  /** foxglove.RawImage mono8 at model resolution: P(pixel wrong) × 255, rounded. */
  errorProbability: '/result/error_probability',
  /** foxglove.RawImage mono8 at frame resolution: ground truth, 0 = background, 255 = structure. */
  groundTruth: '/ground_truth/mask',
} as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

/** RawImage frame_id of images in frame pixels and in model-input (letterboxed) pixels. */
export const FRAME_ID_FRAME = 'frame';
export const FRAME_ID_MODEL = 'model_input';

/** A schema ready to register with an MCAP writer, and the type that encodes and decodes it. */
export interface RecordingSchema {
  name: string;
  encoding: 'protobuf';
  /** Serialized FileDescriptorSet containing the message and everything it imports. */
  data: Uint8Array;
  type: protobuf.Type;
}

export interface RecordingSchemas {
  frame: RecordingSchema;
  result: RecordingSchema;
  rawImage: RecordingSchema;
}

let cachedSchemas: RecordingSchemas | undefined;

/** Loads the recording schemas once per process. */
export function recordingSchemas(): RecordingSchemas {
  if (cachedSchemas) return cachedSchemas;

  // keepCase keeps the .proto field names (capture_timestamp_ns), so the descriptor that
  // readers see names fields as the schema does.
  const segwithuRoot = new protobuf.Root();
  const protoPath = fileURLToPath(new URL('../../proto/segwithu.proto', import.meta.url));
  protobuf.parse(readFileSync(protoPath, 'utf8'), segwithuRoot, { keepCase: true });
  segwithuRoot.resolveAll();
  const segwithuSet = fileDescriptorSet(segwithuRoot, { 'segwithu.v1': 'segwithu.proto' });

  const foxgloveRoot = new protobuf.Root();
  foxgloveRoot.addJSON(protobuf.common.get('google/protobuf/timestamp.proto')!.nested!);
  const rawImageProto = foxgloveSchemas.generateProto(foxgloveSchemas.foxgloveMessageSchemas.RawImage, []);
  protobuf.parse(rawImageProto, foxgloveRoot, { keepCase: true });
  foxgloveRoot.resolveAll();
  const foxgloveSet = fileDescriptorSet(foxgloveRoot, {
    foxglove: 'foxglove/RawImage.proto',
    'google.protobuf': 'google/protobuf/timestamp.proto',
  });

  cachedSchemas = {
    frame: schema('segwithu.v1.Frame', segwithuRoot, segwithuSet),
    result: schema('segwithu.v1.Result', segwithuRoot, segwithuSet),
    rawImage: schema('foxglove.RawImage', foxgloveRoot, foxgloveSet),
  };
  return cachedSchemas;
}

function schema(name: string, root: protobuf.Root, data: Uint8Array): RecordingSchema {
  return { name, encoding: 'protobuf', data, type: root.lookupType(name) };
}

/**
 * Serializes a root as a FileDescriptorSet with one file per package, named by `fileNames`.
 * protobufjs names each file after its package and leaves `dependency` empty, which
 * protobufjs-based readers (Foxglove) accept but descriptor-pool readers (protoc-generated
 * code, the mcap tools) reject, so this adds each file's imports and orders imports first.
 */
export function fileDescriptorSet(root: protobuf.Root, fileNames: Record<string, string>): Uint8Array {
  const set = root.toDescriptor('proto3');

  const fileOfType = new Map<string, string>();
  for (const file of set.file) {
    const name = fileNames[file.package ?? ''] ?? file.name ?? '';
    file.name = name;
    const prefix = file.package ? `.${file.package}` : '';
    for (const type of file.messageType ?? []) {
      qualifyFieldTypes(type, `${prefix}.${type.name}`, root);
      collectTypeNames(type, prefix, name, fileOfType);
    }
    for (const enumType of file.enumType ?? []) fileOfType.set(`${prefix}.${enumType.name}`, name);
  }

  for (const file of set.file) {
    const imports = new Set<string>();
    for (const type of file.messageType ?? []) collectImports(type, fileOfType, imports);
    imports.delete(file.name ?? '');
    file.dependency = [...imports].sort();
  }

  // Imports before the files that use them.
  const ordered: typeof set.file = [];
  const placed = new Set<string>();
  const place = (file: (typeof set.file)[number]): void => {
    if (placed.has(file.name ?? '')) return;
    placed.add(file.name ?? '');
    for (const dependency of file.dependency ?? []) {
      const imported = set.file.find((candidate) => candidate.name === dependency);
      if (imported) place(imported);
    }
    ordered.push(file);
  };
  for (const file of set.file) place(file);
  set.file = ordered;

  return descriptor.FileDescriptorSet.encode(set).finish();
}

type DescriptorMessage = NonNullable<descriptor.IFileDescriptorProto['messageType']>[number];

/**
 * Replaces each field's type name with its fully qualified form (".google.protobuf.Timestamp"),
 * because protobufjs writes it as the .proto spelled it and descriptor-pool readers resolve
 * only qualified names.
 */
function qualifyFieldTypes(type: DescriptorMessage, fullName: string, root: protobuf.Root): void {
  const reflected = root.lookupType(fullName);
  for (const field of type.field ?? []) {
    const resolved = field.name ? reflected.fields[field.name]?.resolvedType : undefined;
    if (resolved) field.typeName = resolved.fullName;
  }
  for (const nested of type.nestedType ?? []) qualifyFieldTypes(nested, `${fullName}.${nested.name}`, root);
}

function collectTypeNames(type: DescriptorMessage, prefix: string, fileName: string, into: Map<string, string>): void {
  const fullName = `${prefix}.${type.name}`;
  into.set(fullName, fileName);
  for (const nested of type.nestedType ?? []) collectTypeNames(nested, fullName, fileName, into);
  for (const enumType of type.enumType ?? []) into.set(`${fullName}.${enumType.name}`, fileName);
}

function collectImports(type: DescriptorMessage, fileOfType: Map<string, string>, into: Set<string>): void {
  for (const field of type.field ?? []) {
    const file = field.typeName ? fileOfType.get(field.typeName) : undefined;
    if (file) into.add(file);
  }
  for (const nested of type.nestedType ?? []) collectImports(nested, fileOfType, into);
}
