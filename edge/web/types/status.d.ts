// What the page reads of the daemon: /api/status (edge/app.py's DaemonStatus; the page does not
// read /healthz) and the camera's notices on the data channel (edge/webrtc/session.py). Only the
// fields the page reads, each state as the union of its StrEnum's values, so that tsc checks
// every field the page reads and every state it compares. tests/test_page_types.py keeps each
// union equal to the Python enum of the same name. Not under static/: every file there is served.

/** edge/app.py */
export type Health = 'ok' | 'degraded';

/** edge/media/supervisor.py: the camera's and the microphone's. */
export type SourceState = 'starting' | 'running' | 'restarting' | 'stopped';

/** edge/recording/recorder.py */
export type RecorderState = 'idle' | 'waiting for the camera' | 'recording';

/** edge/recording/recorder.py */
export type StorageState = 'ok' | 'full' | 'error';

/** edge/publish/target.py */
export type PublishState =
  | 'disabled'
  | 'connecting'
  | 'publishing'
  | 'recovering'
  | 'retrying'
  | 'refused'
  | 'failed'
  | 'stopped';

/** edge/webrtc/quality.py: what the viewer asked for: what its link carries, HD (main) or SD (low). */
export type QualityMode = 'auto' | 'high' | 'low';

/** edge/service.py: a part the configuration leaves off (the microphone, motion). */
export type OffState = 'off';

/** edge/media/video.py's CameraStatus */
export interface CameraStatus {
  backend: string;
  state: SourceState;
  width: number;
  height: number;
  framerate: number;
}

/** edge/media/audio.py's MicrophoneStatus */
export interface MicrophoneStatus {
  backend: string;
  /** off: no microphone */
  state: SourceState | OffState;
}

/** edge/recording/recorder.py's ReasonStatus: why a clip is being recorded. */
export interface ReasonStatus {
  name: string;
  held: boolean;
}

/** edge/recording/recorder.py's StorageStatus */
export interface StorageStatus {
  state: StorageState;
  detail: string | null;
  clips: number;
  clips_mb: number;
}

/** edge/recording/recorder.py's RecorderStatus */
export interface RecorderStatus {
  state: RecorderState;
  clip: string | null;
  clips_written: number;
  reasons: ReasonStatus[];
  /** Unix time */
  ends_at: number | null;
  storage: StorageStatus;
  last_error: string | null;
}

/** edge/triggers/source.py's InputStatus: a GPIO pin or the camera's motion. */
export interface InputStatus {
  name: string;
  /** "event" or "hold" (GPIO), "motion" */
  mode: string;
  active: boolean;
  /** activations since start: the page flashes each new one */
  events: number;
  /** GPIO inputs only */
  pin?: number;
}

/** edge/triggers/gpio.py's GpioStatus */
export interface GpioStatus {
  simulated: boolean;
  inputs: InputStatus[];
}

/** edge/triggers/motion.py's MotionStatus, or MotionOffStatus (which has neither inputs nor activity). */
export type MotionStatus =
  | { enabled: true; active: boolean; inputs: InputStatus[] }
  | { enabled: false; state: OffState; active?: undefined; inputs?: undefined };

/** edge/publish/target.py's PublishTargetStatus */
export interface PublishTargetStatus {
  name: string;
  state: PublishState;
  last_error: string | null;
}

/** edge/app.py's DaemonStatus: /api/status */
export interface DaemonStatus {
  status: Health;
  viewers: number;
  camera: CameraStatus;
  microphone: MicrophoneStatus;
  recording: RecorderStatus;
  gpio: GpioStatus;
  motion: MotionStatus;
  publish: PublishTargetStatus[];
}

/** The stream this viewer is sent, and why (edge/webrtc/session.py's _tell_quality). */
export interface QualityNotice {
  type: 'quality';
  mode: QualityMode;
  /** hw/camera's StreamName */
  stream: 'main' | 'low';
  width: number;
  height: number;
  /** a short phrase: "auto: loss 23 % on main", "chosen: SD"... */
  reason: string;
}

/** What the camera tells the page on the data channel (edge/webrtc/session.py's _notify). */
export type Notice =
  | { type: 'network-change' }
  | { type: 'camera'; state: SourceState }
  | { type: 'trigger'; name: string }
  | QualityNotice;
