// The browser page of `video serve`: webcam frames in, stylized frames out, over gRPC-Web.
//
// Browsers cannot stream requests over gRPC-Web, so the page runs StylizeStream's session through its browser form:
// OpenSession (a server stream of the session's responses) plus PushSession (one unary call per frame or config).
// Each frame's pts is performance.now() at the grab, in microseconds; the latency is taken when its stylized frame
// is drawn. At most maxInFlight frames are out: the newest camera frame waits for a reply, and a camera frame that is
// replaced by a newer one before it could go is skipped and counted.
import { createClient, ConnectError, Code, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  VideoStylizer, Encoding, Policy, TemporalMode,
  type ModelInfo, type StylizedFrame,
} from "../gen/video/stylize/v1/stylize_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SessionConfigSchema, StreamRequestSchema } from "../gen/video/stylize/v1/stylize_pb";
import { StatsBook, type VideoStats } from "./stats";

declare global {
  interface Window {
    videoStats: VideoStats;
    videoStatsReset: () => void;
  }
}

const width = 640;
const height = 360;
// Two frames in flight let the next frame's encode and upload overlap the current one's inference; `?inflight=1`
// trades that throughput for the shortest latency (docs/live.md has both).
const maxInFlight = Math.min(4, Math.max(1, Number(new URLSearchParams(location.search).get("inflight") ?? 2) || 2));
const jpegQuality = 0.8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const video = $<HTMLVideoElement>("camera");
const inputCanvas = $<HTMLCanvasElement>("input");
const outputCanvas = $<HTMLCanvasElement>("output");
const inputCtx = inputCanvas.getContext("2d")!;
const outputCtx = outputCanvas.getContext("2d")!;
const modelSelect = $<HTMLSelectElement>("model");
const styleSelect = $<HTMLSelectElement>("style");
const styleFile = $<HTMLInputElement>("style-file");
const alphaInput = $<HTMLInputElement>("alpha");
const temporalInput = $<HTMLInputElement>("temporal");
const holdInput = $<HTMLInputElement>("hold");
const apiKeyInput = $<HTMLInputElement>("api-key");

const book = new StatsBook();
window.videoStats = book.stats;
window.videoStatsReset = () => book.reset();

// The API key goes as the same metadata the C# client sends: authorization: Bearer KEY.
const auth: Interceptor = (next) => async (req) => {
  const key = apiKeyInput.value.trim();
  if (key) req.header.set("authorization", `Bearer ${key}`);
  return next(req);
};
const client = createClient(VideoStylizer, createGrpcWebTransport({ baseUrl: location.origin, interceptors: [auth] }));

let models: ModelInfo[] = [];
/** Styles registered from this page, by model: [label, style id]. */
const styles = new Map<string, Array<[string, string]>>();
let session: { id: string; abort: AbortController } | null = null;
let opening: AbortController | null = null;
let retryMs = 500;
/** Frames sent and not yet answered: sequence → grab time. */
const inFlight = new Map<bigint, number>();
let sequence = 0n;
let lastDrawn = -1n;
let held: ImageBitmap | null = null;
const grab = new OffscreenCanvas(width, height);
const grabCtx = grab.getContext("2d")!;

function status(text: string, error = false): void {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
  book.stats.error = error ? text : "";
}

function describe(e: unknown): string {
  if (e instanceof ConnectError) {
    return e.code === Code.Unauthenticated ? `${e.rawMessage} (enter the API key above)` : `${Code[e.code]}: ${e.rawMessage}`;
  }
  return e instanceof Error ? e.message : String(e);
}

function selectedModel(): ModelInfo | undefined {
  return models.find((m) => m.name === modelSelect.value);
}

/** The session config from the controls; an AdaIN model without a style yet gets the first preset. */
async function config(): Promise<MessageInitShape<typeof SessionConfigSchema>> {
  const model = selectedModel();
  const cfg: MessageInitShape<typeof SessionConfigSchema> = {
    model: model?.name ?? "",
    policy: Policy.LATEST,
    queueCapacity: 1,
    outputEncoding: Encoding.JPEG,
    jpegQuality: 85,
    temporal: { mode: temporalInput.checked ? TemporalMode.FLOW : TemporalMode.OFF },
  };
  if (model?.needsStyle) {
    // A preset is registered when first used; registering selects its style id.
    if (!styleSelect.value) await registerPreset(model.name, 0);
    else if (styleSelect.value.startsWith("preset:")) await registerPreset(model.name, Number(styleSelect.value.slice(7)));
    cfg.styleId = styleSelect.value;
    cfg.alpha = Number(alphaInput.value);
  }
  return cfg;
}

// --- styles for AdaIN models -------------------------------------------------------------------------------------

/** Built-in style images drawn here, so an AdaIN model works before any upload. */
const presets: Array<[string, (c: OffscreenCanvasRenderingContext2D) => void]> = [
  ["preset: sunset stripes", (c) => {
    for (let i = 0; i < 24; i++) {
      c.fillStyle = `hsl(${(i * 23) % 60 + 10}, 90%, ${40 + (i % 3) * 15}%)`;
      c.beginPath(); c.moveTo(i * 24 - 128, 0); c.lineTo(i * 24, 0); c.lineTo(i * 24 + 128, 256); c.lineTo(i * 24, 256); c.fill();
    }
  }],
  ["preset: blue rings", (c) => {
    for (let r = 190; r > 0; r -= 12) {
      c.fillStyle = `hsl(${200 + (r % 36)}, 80%, ${25 + (r % 48)}%)`;
      c.beginPath(); c.arc(128, 128, r, 0, Math.PI * 2); c.fill();
    }
  }],
];

async function registerImage(model: string, label: string, blob: Blob): Promise<void> {
  const reply = await client.registerStyle({ model, image: { encoding: Encoding.PNG, data: new Uint8Array(await blob.arrayBuffer()) } });
  const list = styles.get(model) ?? [];
  if (!list.some(([, id]) => id === reply.styleId)) list.push([label, reply.styleId]);
  styles.set(model, list);
  fillStyles(reply.styleId);
}

async function registerPreset(model: string, index: number): Promise<void> {
  const canvas = new OffscreenCanvas(256, 256);
  presets[index][1](canvas.getContext("2d")!);
  await registerImage(model, presets[index][0], await canvas.convertToBlob({ type: "image/png" }));
}

function fillStyles(selected?: string): void {
  const model = selectedModel();
  const list = model ? styles.get(model.name) ?? [] : [];
  styleSelect.replaceChildren(...list.map(([label, id]) => new Option(label, id, false, id === selected)));
  presets.forEach(([label], i) => {
    if (!list.some(([l]) => l === label)) styleSelect.append(new Option(label, `preset:${i}`));
  });
}

// --- the session -------------------------------------------------------------------------------------------------

/** Opens a session and reads its responses until it ends; then opens another after a pause. */
async function openSession(): Promise<void> {
  opening?.abort();
  const abort = new AbortController();
  opening = abort;
  session = null;
  inFlight.clear();
  try {
    const first = await config();
    for await (const res of client.openSession({ config: first }, { signal: abort.signal })) {
      if (res.kind.case === "configApplied") {
        const applied = res.kind.value;
        if (applied.sessionId) session = { id: applied.sessionId, abort };
        retryMs = 500;
        book.stats.sessionId = session?.id ?? "";
        book.stats.configVersion = applied.version;
        status(`session open: model ${applied.model} on ${applied.device}`);
      } else if (res.kind.case === "frame") {
        void draw(res.kind.value);
      }
    }
    if (!abort.signal.aborted) status("the server ended the session; reopening…", true);
  } catch (e) {
    if (abort.signal.aborted) return;
    status(describe(e), true);
    // A refused key stays refused (and failed attempts can lock the address out): wait for a new key instead.
    if (e instanceof ConnectError && (e.code === Code.Unauthenticated || e.code === Code.PermissionDenied)) return;
  }
  if (abort.signal.aborted) return;
  // Reopen after 1 s, doubling up to 30 s while sessions end before they open; an opened session resets it.
  const wait = session ? 1000 : Math.min(30_000, retryMs * 2);
  retryMs = wait;
  setTimeout(() => { if (opening === abort) void openSession(); }, wait);
}

async function push(request: MessageInitShape<typeof StreamRequestSchema>): Promise<void> {
  if (!session) return;
  await client.pushSession({ sessionId: session.id, request });
}

/** Applies the controls to the running session (from its next frame on). */
async function applyConfig(): Promise<void> {
  try {
    const cfg = await config();
    if (session) await push({ kind: { case: "config", value: cfg } });
  } catch (e) {
    status(describe(e), true);
  }
}

// --- frames ------------------------------------------------------------------------------------------------------

function source(): CanvasImageSource {
  return held ?? video;
}

/** A camera frame arrived that has not been sent yet (it goes out as soon as a frame comes back). */
let unsent = false;

/** On each camera frame: show it, and send it when fewer than maxInFlight frames are out. */
function onCameraFrame(): void {
  inputCtx.drawImage(source(), 0, 0, width, height);
  if (!session) return;
  if (unsent) book.stats.skipped++; // the previous camera frame was never sent: this one replaces it
  unsent = true;
  sendIfRoom();
}

/** Sends the newest camera frame if it is unsent and there is room; called per camera frame and per drawn frame. */
function sendIfRoom(): void {
  // Answers come in order: a frame older than the last drawn one was dropped by the server.
  const now = performance.now();
  for (const [seq, at] of inFlight) if (seq <= lastDrawn || now - at > 5000) inFlight.delete(seq);
  if (!unsent || !session || inFlight.size >= maxInFlight) return;
  unsent = false;
  void send();
}

async function send(): Promise<void> {
  const grabbed = performance.now();
  const seq = ++sequence;
  inFlight.set(seq, grabbed);
  try {
    grabCtx.drawImage(source(), 0, 0, width, height);
    const blob = await grab.convertToBlob({ type: "image/jpeg", quality: jpegQuality });
    const data = new Uint8Array(await blob.arrayBuffer());
    book.encoded(performance.now() - grabbed);
    const frame = { image: { encoding: Encoding.JPEG, width, height, data }, pts: BigInt(Math.round(grabbed * 1000)), sequence: seq };
    await push({ kind: { case: "frame", value: frame } });
  } catch (e) {
    inFlight.delete(seq);
    if (!(e instanceof ConnectError && e.code === Code.NotFound)) status(describe(e), true);
  }
}

async function draw(frame: StylizedFrame): Promise<void> {
  const image = frame.image;
  if (!image) return;
  const bitmap = await createImageBitmap(new Blob([image.data], { type: "image/jpeg" }));
  try {
    if (frame.sequence <= lastDrawn) return;
    lastDrawn = frame.sequence;
    inFlight.delete(frame.sequence);
    outputCtx.drawImage(bitmap, 0, 0, width, height);
    const now = performance.now();
    book.stats.model = frame.model;
    book.stats.serverDropped = Number(frame.droppedTotal);
    book.drawn(now, now - Number(frame.pts) / 1000, frame.timings?.totalMs ?? 0);
    sendIfRoom();
    $("output-caption").textContent = `stylized: ${frame.model}`;
    const s = book.stats;
    $("stats").textContent = `fps ${s.fps.toFixed(1)} · latency p50 ${s.latency.p50.toFixed(0)} p95 ${s.latency.p95.toFixed(0)} p99 ${s.latency.p99.toFixed(0)} ms`
      + ` · encode ${s.encodeMs.toFixed(1)} ms · server ${s.serverMs.toFixed(0)} ms · sent ${s.framesSent} drawn ${s.framesDrawn} skipped ${s.skipped} dropped ${s.serverDropped}`;
  } finally {
    bitmap.close();
  }
}

function pump(): void {
  const next = () => {
    onCameraFrame();
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(next);
  };
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(next);
  else setInterval(onCameraFrame, 1000 / 30);
}

// --- controls ----------------------------------------------------------------------------------------------------

async function loadModels(): Promise<void> {
  const reply = await client.listModels({});
  models = reply.models;
  const previous = modelSelect.value || reply.defaultModel;
  modelSelect.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.family})`, m.name, false, m.name === previous)));
  onModelChanged(false);
}

function onModelChanged(apply = true): void {
  const adain = selectedModel()?.needsStyle ?? false;
  $("style-row").hidden = !adain;
  $("alpha-row").hidden = !adain;
  fillStyles();
  if (apply) void applyConfig();
}

modelSelect.addEventListener("change", () => onModelChanged());
styleSelect.addEventListener("change", () => void applyConfig());
styleFile.addEventListener("change", async () => {
  const model = selectedModel();
  const file = styleFile.files?.[0];
  if (!model || !file) return;
  try {
    // Re-encode as PNG at most 512 px wide: any image the browser reads becomes one the server takes.
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 512 / bitmap.width);
    const canvas = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * scale)), Math.max(1, Math.round(bitmap.height * scale)));
    canvas.getContext("2d")!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    await registerImage(model.name, file.name, await canvas.convertToBlob({ type: "image/png" }));
    void applyConfig();
  } catch (e) {
    status(describe(e), true);
  }
});
alphaInput.addEventListener("input", () => { $("alpha-value").textContent = Number(alphaInput.value).toFixed(2); });
alphaInput.addEventListener("change", () => void applyConfig());
temporalInput.addEventListener("change", () => void applyConfig());
holdInput.addEventListener("change", async () => {
  held?.close();
  held = holdInput.checked ? await createImageBitmap(video) : null;
});
apiKeyInput.addEventListener("change", () => void start());

async function start(): Promise<void> {
  try {
    await loadModels();
    void openSession();
  } catch (e) {
    status(describe(e), true);
  }
}

async function main(): Promise<void> {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width, height }, audio: false });
    await video.play();
  } catch (e) {
    status(`no camera: ${describe(e)}`, true);
    return;
  }
  pump();
  await start();
}

void main();
