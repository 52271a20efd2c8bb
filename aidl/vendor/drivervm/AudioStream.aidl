/*
 * Copyright (C) 2026 The drivervm authors
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *      http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

package vendor.drivervm;

import vendor.drivervm.AudioDirection;
import vendor.drivervm.AudioStreamState;

/**
 * One virtio-snd PCM stream.
 */
@VintfStability
parcelable AudioStream {
    /** The virtio-snd stream id. */
    int id;
    AudioDirection direction;
    AudioStreamState state;
    /** Sample format as ALSA names it, e.g. "S16_LE"; empty before SET_PARAMETERS. */
    String format;
    /** Frame rate in Hz; 0 before SET_PARAMETERS. */
    int rateHz;
    int channels;
    /** Underruns (output) or overruns (input) since the stream was prepared. */
    long xruns;
}
