#nullable enable
// MSBuild inline task (RoslynCodeTaskFactory) used by ../TorchSharpLoaderFix.targets. Not part of the
// trainer assembly (excluded in Video.Training.csproj). Keep it self-contained: only BCL + MSBuild types.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchTorchSharpGlibcxxNeed : Task
{
    private const string NeededFile = "libstdc++.so.6";
    private const string NeededVersion = "GLIBCXX_3.4.32";
    private const string OnlyAllowedSymbol = "_ZSt21ios_base_library_initv";
    private const ushort VerFlgWeak = 0x2;

    [Required]
    public string LibraryPath { get; set; } = "";

    [Output]
    public string Result { get; set; } = "";

    public override bool Execute()
    {
        try
        {
            if (SystemHasVersion())
            {
                Result = "skipped, the system libstdc++ provides " + NeededVersion;
                return true;
            }

            byte[] elf = File.ReadAllBytes(LibraryPath);
            long flagsOffset = FindFlagsOffset(elf, out string? problem);
            if (flagsOffset < 0)
            {
                if (problem is null)
                {
                    Result = "not needed, the library does not require " + NeededVersion;
                    return true;
                }

                Log.LogError("TorchSharp loader fix: " + LibraryPath + " does not look as expected: " + problem);
                return false;
            }

            ushort flags = BitConverter.ToUInt16(elf, (int)flagsOffset);
            if ((flags & VerFlgWeak) != 0)
            {
                Result = "already patched";
                return true;
            }

            flags |= VerFlgWeak;
            elf[flagsOffset] = (byte)(flags & 0xff);
            elf[flagsOffset + 1] = (byte)(flags >> 8);

            // The output copy may be a hard link into the NuGet cache: never write through it.
            string tmp = LibraryPath + ".patch.tmp";
            File.WriteAllBytes(tmp, elf);
            // netstandard2.0 has no File.Move(overwrite): unlink the old name (never the cache file it may
            // share an inode with), then rename the new file into place.
            File.Delete(LibraryPath);
            File.Move(tmp, LibraryPath);
            Result = "patched (" + NeededVersion + " marked weak)";
            return true;
        }
        catch (Exception e)
        {
            Log.LogError("TorchSharp loader fix failed on " + LibraryPath + ": " + e.Message);
            return false;
        }
    }

    private static bool SystemHasVersion()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        };
        byte[] needle = Encoding.ASCII.GetBytes(NeededVersion + "\0");
        foreach (string c in candidates)
        {
            if (!File.Exists(c))
            {
                continue;
            }

            byte[] data = File.ReadAllBytes(c);
            return IndexOf(data, needle) >= 0;
        }

        return false;
    }

    private static int IndexOf(byte[] data, byte[] needle)
    {
        for (int i = 0; i <= data.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && data[i + j] == needle[j])
            {
                j++;
            }

            if (j == needle.Length)
            {
                return i;
            }
        }

        return -1;
    }

    private struct Section
    {
        public uint Type;
        public long Offset;
        public long Size;
        public uint Link;
        public uint Info;
        public long EntSize;
    }

    /// <summary>Returns the file offset of vna_flags, or -1 with <paramref name="problem"/> null when the need is absent.</summary>
    private static long FindFlagsOffset(byte[] e, out string? problem)
    {
        problem = null;
        if (e.Length < 64 || e[0] != 0x7f || e[1] != (byte)'E' || e[2] != (byte)'L' || e[3] != (byte)'F')
        {
            problem = "not an ELF file";
            return -1;
        }

        if (e[4] != 2 || e[5] != 1)
        {
            problem = "not a little-endian 64-bit ELF";
            return -1;
        }

        long shoff = BitConverter.ToInt64(e, 0x28);
        int shentsize = BitConverter.ToUInt16(e, 0x3A);
        int shnum = BitConverter.ToUInt16(e, 0x3C);
        if (shoff <= 0 || shentsize != 64 || shnum == 0 || shoff + (long)shnum * shentsize > e.Length)
        {
            problem = "bad section header table";
            return -1;
        }

        var sections = new Section[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int o = checked((int)(shoff + (long)i * shentsize));
            sections[i] = new Section
            {
                Type = BitConverter.ToUInt32(e, o + 4),
                Offset = BitConverter.ToInt64(e, o + 24),
                Size = BitConverter.ToInt64(e, o + 32),
                Link = BitConverter.ToUInt32(e, o + 40),
                Info = BitConverter.ToUInt32(e, o + 44),
                EntSize = BitConverter.ToInt64(e, o + 56),
            };
        }

        const uint ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff, ShtDynsym = 11, ShtRela = 4, ShtRel = 9;
        int verneedIndex = Array.FindIndex(sections, s => s.Type == ShtVerneed);
        if (verneedIndex < 0)
        {
            problem = "no .gnu.version_r section";
            return -1;
        }

        Section verneed = sections[verneedIndex];
        Section dynstr = sections[verneed.Link];
        Func<uint, string> str = off => CString(e, dynstr.Offset + off);

        var matches = new List<(long FlagsOffset, ushort Other)>();
        bool libstdcxxSeen = false;
        long vn = verneed.Offset;
        for (uint n = 0; n < verneed.Info; n++)
        {
            ushort cnt = BitConverter.ToUInt16(e, (int)vn + 2);
            uint file = BitConverter.ToUInt32(e, (int)vn + 4);
            uint aux = BitConverter.ToUInt32(e, (int)vn + 8);
            uint next = BitConverter.ToUInt32(e, (int)vn + 12);
            if (str(file) == NeededFile)
            {
                libstdcxxSeen = true;
                long va = vn + aux;
                for (int a = 0; a < cnt; a++)
                {
                    uint name = BitConverter.ToUInt32(e, (int)va + 8);
                    if (str(name) == NeededVersion)
                    {
                        matches.Add((va + 4, BitConverter.ToUInt16(e, (int)va + 6)));
                    }

                    uint anext = BitConverter.ToUInt32(e, (int)va + 12);
                    if (anext == 0)
                    {
                        break;
                    }

                    va += anext;
                }
            }

            if (next == 0)
            {
                break;
            }

            vn += next;
        }

        if (!libstdcxxSeen)
        {
            problem = "no Verneed entry for " + NeededFile;
            return -1;
        }

        if (matches.Count == 0)
        {
            return -1; // nothing to patch: the need is absent
        }

        if (matches.Count != 1)
        {
            problem = matches.Count + " Vernaux entries for " + NeededVersion + " (expected exactly one)";
            return -1;
        }

        ushort other = matches[0].Other;

        // Exactly one dynamic symbol may be bound to that version, and it must be the dummy iostream init.
        int versymIndex = Array.FindIndex(sections, s => s.Type == ShtVersym);
        int dynsymIndex = Array.FindIndex(sections, s => s.Type == ShtDynsym);
        if (versymIndex < 0 || dynsymIndex < 0)
        {
            problem = "no .gnu.version or .dynsym section";
            return -1;
        }

        Section versym = sections[versymIndex];
        Section dynsym = sections[dynsymIndex];
        Section symstr = sections[dynsym.Link];
        long symCount = dynsym.Size / 24;
        var bound = new List<long>();
        for (long i = 0; i < symCount; i++)
        {
            ushort v = (ushort)(BitConverter.ToUInt16(e, (int)(versym.Offset + 2 * i)) & 0x7fff);
            if (v == other)
            {
                bound.Add(i);
            }
        }

        if (bound.Count != 1)
        {
            problem = bound.Count + " symbols bound to " + NeededVersion + " (expected only " + OnlyAllowedSymbol + ")";
            return -1;
        }

        uint symName = BitConverter.ToUInt32(e, (int)(dynsym.Offset + 24 * bound[0]));
        string boundName = CString(e, symstr.Offset + symName);
        if (boundName != OnlyAllowedSymbol)
        {
            problem = "symbol " + boundName + " is bound to " + NeededVersion + " (expected only " + OnlyAllowedSymbol + ")";
            return -1;
        }

        for (int s = 0; s < sections.Length; s++)
        {
            Section sec = sections[s];
            if ((sec.Type != ShtRela && sec.Type != ShtRel) || sec.Link != dynsymIndex)
            {
                continue;
            }

            long ent = sec.EntSize != 0 ? sec.EntSize : (sec.Type == ShtRela ? 24 : 16);
            for (long r = sec.Offset; r + ent <= sec.Offset + sec.Size; r += ent)
            {
                ulong info = BitConverter.ToUInt64(e, (int)r + 8);
                if ((long)(info >> 32) == bound[0])
                {
                    problem = "a relocation uses " + OnlyAllowedSymbol + "@" + NeededVersion;
                    return -1;
                }
            }
        }

        return matches[0].FlagsOffset;
    }

    private static string CString(byte[] e, long offset)
    {
        int end = (int)offset;
        while (end < e.Length && e[end] != 0)
        {
            end++;
        }

        return Encoding.ASCII.GetString(e, (int)offset, end - (int)offset);
    }
}
