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
 * Which virtio device a drivervm device entry serves.
 */
@VintfStability
@Backing(type="int")
enum DeviceKind {
    /** virtio-scmi (device ID 32): clocks, and later power domains, resets, sensors. */
    SCMI = 0,
    /** virtio-rpmb (device ID 28), or the rpmb_dev frame protocol of Trusty's storageproxyd. */
    RPMB = 1,
    /** virtio-snd (device ID 25). */
    SOUND = 2,
    /** The FM/AM tuner device specified in docs/virtio-radio.md. */
    RADIO = 3,
}
