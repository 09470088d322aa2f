using System.CommandLine;
using Video.Capture;
using Video.Streaming.Cli;

namespace Video.Streaming;

/// <summary>The <c>video</c> command line host.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE");
        var root = new RootCommand("Real-time video stylization: stylize files, list and build models.")
        {
            StylizeCommand.Create(),
            ModelsCommand.Create(),
            DemoCommand.Create(),
            BenchCommand.Create(),
            EvalCommand.Create(),
            ServeCommand.Create(),
            ClientCommand.Create(),
            LoadtestCommand.Create(),
            LiveCommand.Create(),
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            string message = System.Text.RegularExpressions.Regex.Replace(parse.Errors[0].Message, @"\s*\n\s*", " ");
            Console.Error.WriteLine($"video: {message} (see video --help)");
            return ExitCodes.Usage;
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                // Ctrl+C cancels the command's token; `video live` then finishes its output, which may take a few seconds.
                ProcessTerminationTimeout = TimeSpan.FromSeconds(20),
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return ExitCodes.Report(e);
        }
    }
}

/// <summary>Exit codes and the one-line error report shared by every command.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Internal = 70;
    public const int Cancelled = 130;

    /// <summary>Prints one line for <paramref name="e"/> on stderr and returns the exit code for it.</summary>
    public static int Report(Exception e)
    {
        if (Environment.GetEnvironmentVariable("VIDEO_DEBUG") == "1")
        {
            Console.Error.WriteLine(e);
        }

        switch (e)
        {
            case VideoException ve:
                Console.Error.WriteLine($"video: error: {ve.Message}");
                return Failure;
            case OperationCanceledException:
                Console.Error.WriteLine("video: cancelled");
                return Cancelled;
            case AggregateException { InnerExceptions.Count: > 0 } ae:
                return Report(ae.InnerExceptions[0]);
            default:
                Console.Error.WriteLine($"video: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (set VIDEO_DEBUG=1 for details)");
                return Internal;
        }
    }
}
