using System.Text;

namespace Video.Capture;

/// <summary>Puts text that came from outside (a model name, a style id) into a message without echoing it whole.</summary>
/// <remarks>Stateless and thread safe.</remarks>
public static class UserText
{
    /// <summary>Longest piece of outside text a message repeats.</summary>
    public const int MaxEchoed = 64;

    /// <summary>
    /// <paramref name="value"/> in single quotes, cut to <see cref="MaxEchoed"/> characters (saying how long it was) and
    /// with control characters shown as '?', so a message stays one short line whatever a caller sent.
    /// </summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(Math.Min(value.Length, MaxEchoed) + 2).Append('\'');
        foreach (char c in value.AsSpan(0, Math.Min(value.Length, MaxEchoed)))
        {
            text.Append(char.IsControl(c) ? '?' : c);
        }

        text.Append('\'');
        return value.Length > MaxEchoed ? $"{text}… ({value.Length} characters)" : text.ToString();
    }
}
