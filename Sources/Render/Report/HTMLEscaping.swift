/// Escapes text from a trace (paths, symbols, arguments) for the contexts the HTML report puts it in.
public enum HTMLEscaping {
    /// Text for HTML content and quoted attribute values: `& < > " '` become entities, control
    /// characters other than newline and tab become U+FFFD.
    public static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { out += "\u{fffd}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// A JSON string literal (quotes included) that is also safe inside an HTML `<script>` element:
    /// `<`, `>`, `&`, U+2028 and U+2029 are written as `\uXXXX`, so `</script>` or `<!--` in a
    /// symbol cannot end the script, and the literal is valid JavaScript as well as JSON.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { out += unicodeEscape(scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
