using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.FileProviders;

namespace Video.Streaming.Grpc;

/// <summary>
/// The browser page (<c>web/</c>, built by the launcher into <c>artifacts/web</c>): static files served at <c>/</c>
/// from the same origin as the gRPC-Web calls it makes.
/// </summary>
internal static class BrowserPage
{
    /// <summary>The one line <c>/</c> answers when the page is not built.</summary>
    public const string NotBuiltMessage = "the browser page is not built: run ./video serve (it builds web/ with npm), or cd web && npm ci && npm run build";

    /// <summary>
    /// The built page's folder: <c>$VIDEO_WEB_ROOT</c> when set, else the nearest <c>artifacts/web</c> above the
    /// host's own folder (the launcher builds the host into <c>artifacts/video</c> and the page into <c>artifacts/web</c>).
    /// Null when no built page (an <c>index.html</c>) is found.
    /// </summary>
    public static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("VIDEO_WEB_ROOT") is { Length: > 0 } configured)
        {
            return IsBuilt(configured) ? Path.GetFullPath(configured) : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "artifacts", "web");
            if (IsBuilt(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Serves <paramref name="root"/> at <c>/</c> (index.html by default), or the not-built line when it is null.</summary>
    public static void Map(WebApplication app, string? root)
    {
        if (root is null)
        {
            app.MapGet("/", () => Results.Text(NotBuiltMessage + "\n", "text/plain; charset=utf-8", statusCode: StatusCodes.Status404NotFound));
            return;
        }

        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,

            // The page is rebuilt in place; the browser must not keep an old bundle.
            OnPrepareResponse = c => c.Context.Response.Headers.CacheControl = "no-cache",
        });
    }

    /// <summary>True when <paramref name="dir"/> holds a built page (its <c>index.html</c>).</summary>
    public static bool IsBuilt(string dir) => File.Exists(Path.Combine(dir, "index.html"));
}
