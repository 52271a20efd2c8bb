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
 * Counters of one virtqueue since the guest driver last set DRIVER_OK.
 */
@VintfStability
parcelable QueueCounters {
    /** Virtqueue index as the virtio spec numbers it for this device type. */
    int index;
    /** Descriptor chains taken from the available ring. */
    long requests;
    /** Chains answered with an error status, including malformed ones. */
    long errors;
    /** Payload bytes moved in either direction. */
    long bytes;
}
