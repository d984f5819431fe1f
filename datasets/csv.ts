/**
 * A small CSV reader and writer following RFC 4180 ("Common Format and MIME Type for CSV Files",
 * Sec. 2): comma-separated fields, optional double quotes around a field, `""` for a quote inside a
 * quoted field, CR LF or LF line ends (a lone CR is also accepted), line breaks allowed inside quoted
 * fields. The first record is the header. A UTF-8 byte-order mark is skipped. Blank lines are skipped.
 *
 * Every record keeps the 1-based line number it starts on, so errors can point at the line a user sees
 * in an editor (the header is line 1).
 */
import { DatasetError } from '../src/core/errors.js';

/** A value quoted for a one-line message (newlines and quotes escaped). */
const q = (v: string): string => JSON.stringify(v);

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
}

export interface CsvTable {
  /** Column names, trimmed of surrounding spaces. */
  header: string[];
  /** Data records (header excluded), each with exactly header.length fields. */
  rows: CsvRecord[];
}

/** Splits CSV text into records. `file` is named in errors. */
export function parseCsvRecords(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let atFieldStart = true;
    let endOfRecord = false;
    while (i < n && !endOfRecord) {
      const ch = text[i]!;
      if (atFieldStart && ch === '"') {
        // Quoted field: read to the closing quote.
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) {
            throw new DatasetError(
              `${file} line ${quoteLine}: a quoted field is never closed; add the closing double quote (write "" for a quote inside a field)`,
            );
          }
          const qc = text[i]!;
          if (qc === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (qc === '\n' || (qc === '\r' && text[i + 1] !== '\n')) line++;
          field += qc;
          i++;
        }
        // After the closing quote only a separator or line end may follow.
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new DatasetError(
            `${file} line ${line}: unexpected text after a closing quote in column ${fields.length + 1}; quote the whole field and write "" for a quote inside it`,
          );
        }
        atFieldStart = false;
        continue;
      }
      if (ch === ',') {
        fields.push(field);
        field = '';
        atFieldStart = true;
        i++;
      } else if (ch === '\n' || ch === '\r') {
        i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        endOfRecord = true;
      } else {
        if (ch === '"') {
          throw new DatasetError(
            `${file} line ${line}: a double quote inside an unquoted field in column ${fields.length + 1}; quote the whole field and write "" for the quote`,
          );
        }
        field += ch;
        atFieldStart = false;
        i++;
      }
    }
    fields.push(field);
    const blank = fields.length === 1 && fields[0]!.trim() === '';
    if (!blank) records.push({ line: startLine, fields });
  }
  return records;
}

/**
 * Parses a CSV file with a header line. Checks that the header has no empty or duplicate names and that
 * every record has as many fields as the header.
 */
export function parseCsv(text: string, file: string): CsvTable {
  const records = parseCsvRecords(text, file);
  if (records.length === 0) {
    throw new DatasetError(`${file}: the file is empty; add a header line and one line per image`);
  }
  const header = records[0]!.fields.map((h) => h.trim());
  header.forEach((name, k) => {
    if (name === '') {
      throw new DatasetError(`${file} line ${records[0]!.line}: column ${k + 1} of the header has no name; name it or remove it`);
    }
    const first = header.indexOf(name);
    if (first !== k) {
      throw new DatasetError(
        `${file} line ${records[0]!.line}: column name ${q(name)} appears twice (columns ${first + 1} and ${k + 1}); rename one of them`,
      );
    }
  });
  const rows = records.slice(1);
  for (const r of rows) {
    if (r.fields.length !== header.length) {
      throw new DatasetError(
        `${file} line ${r.line}: ${r.fields.length} fields but the header has ${header.length} columns; fix the line (quote fields that contain commas)`,
      );
    }
  }
  return { header, rows };
}

/** Quotes a field when it contains a comma, quote, CR or LF, or starts/ends with a space. */
export function csvField(value: string | number): string {
  const s = String(value);
  if (/[",\r\n]/.test(s) || /^\s|\s$/.test(s)) return `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** CSV text (LF line ends, trailing newline) for a header and rows. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const lines = [header.map(csvField).join(',')];
  for (const r of rows) lines.push(r.map(csvField).join(','));
  return lines.join('\n') + '\n';
}
