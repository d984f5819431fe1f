/**
 * DICOM transfer syntaxes (PS3.5 Sec. 10 and Annex A; UIDs from PS3.6 Annex A) and how medsynth decodes
 * each. `how` is the decoder; `null` means medsynth refuses the syntax, naming its UID and name.
 */
export type SyntaxDecoder = 'native-le' | 'native-be' | 'deflated' | 'rle' | 'jpeg-baseline' | 'jpeg-ls' | 'j2k' | null;

export interface TransferSyntax {
  uid: string;
  name: string;
  how: SyntaxDecoder;
}

const TABLE: TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'Implicit VR Little Endian', how: 'native-le' },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', how: 'native-le' },
  { uid: '1.2.840.10008.1.2.1.99', name: 'Deflated Explicit VR Little Endian', how: 'deflated' },
  { uid: '1.2.840.10008.1.2.2', name: 'Explicit VR Big Endian', how: 'native-be' },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', how: 'rle' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', how: 'jpeg-baseline' },
  // Grey only (colour frames are refused in pixels.ts: not tested).
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless Image Compression', how: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Lossy (Near-Lossless) Image Compression', how: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 Image Compression (Lossless Only)', how: 'j2k' },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000 Image Compression', how: 'j2k' },
  // Known but not decoded: no codec here was tested on them (see datasets/dicom/README.md).
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', how: null },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG Lossless, Non-Hierarchical (Process 14)', how: null },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])', how: null },
  { uid: '1.2.840.10008.1.2.4.201', name: 'High-Throughput JPEG 2000 Image Compression (Lossless Only)', how: null },
  { uid: '1.2.840.10008.1.2.4.203', name: 'High-Throughput JPEG 2000 Image Compression', how: null },
  { uid: '1.2.840.10008.1.2.4.100', name: 'MPEG2 Main Profile / Main Level', how: null },
  { uid: '1.2.840.10008.1.2.4.102', name: 'MPEG-4 AVC/H.264 High Profile / Level 4.1', how: null },
];

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

/** The syntax with this UID; an unknown UID gets the name `unknown transfer syntax` and no decoder. */
export function transferSyntax(uid: string): TransferSyntax {
  return BY_UID.get(uid) ?? { uid, name: 'unknown transfer syntax', how: null };
}

/** The syntaxes medsynth decodes, for messages and docs. */
export function supportedSyntaxes(): TransferSyntax[] {
  return TABLE.filter((t) => t.how !== null);
}
