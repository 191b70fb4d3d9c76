/**
 * The reader of gopkg.in/yaml.v2 (2.4.0) and yaml.v3 (3.0.1), readerc.go
 * `yaml_parser_update_buffer`, ported for what it refuses and when.
 *
 * Go decodes its input (UTF-8, or UTF-16 after a byte order mark) in blocks: each time the
 * scanner needs a character it has not decoded yet, the reader tops its 512-byte raw buffer up
 * from the input and decodes all of it. A byte that is not UTF-8, a surrogate, or a control
 * character (anything outside YAML's printable set: `\t`, `\n`, `\r`, U+0020–U+007E, U+0085,
 * U+00A0–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF) fails the whole file, as `yaml: invalid
 * trailing UTF-8 octet` and the like, without a line, but only once the scanner reads into
 * the block that holds it: a fault far past the first document is never met (Go decodes one
 * document), one in the block the document ends in always is.
 */

/** A fault of Go's reader, and when the scanner meets it. */
export interface GoReaderFault {
  /** Go's words: `invalid trailing UTF-8 octet`, `control characters are not allowed`… */
  readonly problem: string
  /**
   * Characters (after a byte order mark) Go had decoded before the block that holds the fault:
   * reading the character at this index makes Go decode that block, and fail.
   */
  readonly at: number
}

/** What Go's reader makes of a file: its characters, and the fault that stops it, if any. */
export interface GoYamlText {
  /**
   * The text as decoded from its encoding, with a leading U+FEFF where the input had a byte
   * order mark (which the scanner drops, as Go's reader does). Past a fault, bytes that are not
   * text are U+FFFD: the scanner stops at the fault before it reads them.
   */
  readonly text: string
  readonly fault?: GoReaderFault
}

/** yaml_private.go `input_raw_buffer_size`. */
const RAW_BUFFER_SIZE = 512

type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be'

/** readerc.go's printable-character check. */
function isAllowed(c: number): boolean {
  return (
    c === 0x09 ||
    c === 0x0a ||
    c === 0x0d ||
    (c >= 0x20 && c <= 0x7e) ||
    c === 0x85 ||
    (c >= 0xa0 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  )
}

/** The length of the UTF-8 sequence a leading octet starts, 0 for one that starts none (yaml_private.go `width`). */
export function utf8Width(octet: number): number {
  if ((octet & 0x80) === 0) return 1
  if ((octet & 0xe0) === 0xc0) return 2
  if ((octet & 0xf0) === 0xe0) return 3
  if ((octet & 0xf8) === 0xf0) return 4
  return 0
}

type Decoded = { width: number; value: number } | { problem: string } | undefined

/** The UTF-8 character at `pos` of `bytes[..end)`: undefined when it runs past `end`. */
function decodeUtf8(bytes: Uint8Array, pos: number, end: number, eof: boolean): Decoded {
  const octet = bytes[pos] as number
  const width = utf8Width(octet)
  if (width === 0) return { problem: 'invalid leading UTF-8 octet' }
  if (pos + width > end) return eof ? { problem: 'incomplete UTF-8 octet sequence' } : undefined
  let value =
    width === 1 ? octet & 0x7f : width === 2 ? octet & 0x1f : width === 3 ? octet & 0x0f : octet & 0x07
  for (let k = 1; k < width; k++) {
    const trailing = bytes[pos + k] as number
    if ((trailing & 0xc0) !== 0x80) return { problem: 'invalid trailing UTF-8 octet' }
    value = (value << 6) + (trailing & 0x3f)
  }
  const shortest =
    width === 1 ||
    (width === 2 && value >= 0x80) ||
    (width === 3 && value >= 0x800) ||
    (width === 4 && value >= 0x10000)
  if (!shortest) return { problem: 'invalid length of a UTF-8 sequence' }
  if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff)
    return { problem: 'invalid Unicode character' }
  return { width, value }
}

/** The UTF-16 character at `pos` of `bytes[..end)`: undefined when it runs past `end`. */
function decodeUtf16(
  bytes: Uint8Array,
  pos: number,
  end: number,
  eof: boolean,
  littleEndian: boolean,
): Decoded {
  const unit = (at: number) =>
    littleEndian
      ? (bytes[at] as number) + ((bytes[at + 1] as number) << 8)
      : ((bytes[at] as number) << 8) + (bytes[at + 1] as number)
  if (end - pos < 2) return eof ? { problem: 'incomplete UTF-16 character' } : undefined
  const value = unit(pos)
  if ((value & 0xfc00) === 0xdc00) return { problem: 'unexpected low surrogate area' }
  if ((value & 0xfc00) !== 0xd800) return { width: 2, value }
  if (end - pos < 4) return eof ? { problem: 'incomplete UTF-16 surrogate pair' } : undefined
  const low = unit(pos + 2)
  if ((low & 0xfc00) !== 0xdc00) return { problem: 'expected low surrogate area' }
  return { width: 4, value: 0x10000 + ((value & 0x3ff) << 10) + (low & 0x3ff) }
}

/**
 * Reads a YAML file as Go's reader does: its encoding from a byte order mark (UTF-8 without
 * one), its characters, and its first fault with the index where the scanner meets it. A
 * string is read as the UTF-8 bytes Go would be handed for it.
 */
export function readGoYaml(source: string | Uint8Array): GoYamlText {
  const bytes = typeof source === 'string' ? new TextEncoder().encode(source) : source
  let encoding: Encoding = 'utf-8'
  let pos = 0
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    encoding = 'utf-16le'
    pos = 2
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    encoding = 'utf-16be'
    pos = 2
  } else if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) pos = 3
  const text = new TextDecoder(encoding, { ignoreBOM: true }).decode(bytes)
  // The raw buffer holds the bytes read up to `end`; each top-up reads it full again, from the
  // first byte not yet decoded. `eof` is set by the read after the last byte.
  let end = Math.min(bytes.length, RAW_BUFFER_SIZE)
  let eof = false
  let decoded = 0
  let decodedBefore = 0
  for (;;) {
    while (pos < end) {
      const char =
        encoding === 'utf-8'
          ? decodeUtf8(bytes, pos, end, eof)
          : decodeUtf16(bytes, pos, end, eof, encoding === 'utf-16le')
      if (char === undefined) break
      if ('problem' in char) return { text, fault: { problem: char.problem, at: decodedBefore } }
      if (!isAllowed(char.value)) {
        return { text, fault: { problem: 'control characters are not allowed', at: decodedBefore } }
      }
      pos += char.width
      decoded++
    }
    if (eof) return { text }
    decodedBefore = decoded
    if (end === bytes.length) eof = true
    else end = Math.min(bytes.length, pos + RAW_BUFFER_SIZE)
  }
}
