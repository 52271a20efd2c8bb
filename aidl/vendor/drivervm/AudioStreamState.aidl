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

/**
 * Where a PCM stream is in the virtio-snd stream state machine.
 */
@VintfStability
@Backing(type="int")
enum AudioStreamState {
    /** Released, or never configured. */
    IDLE = 0,
    /** SET_PARAMETERS accepted. */
    PARAMETERS_SET = 1,
    /** PREPARE accepted; buffers may be queued. */
    PREPARED = 2,
    /** START accepted; audio is moving. */
    RUNNING = 3,
    /** STOP accepted. */
    STOPPED = 4,
}
