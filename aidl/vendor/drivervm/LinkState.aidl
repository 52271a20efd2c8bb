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
 * Where a device stands with its guest driver.
 */
@VintfStability
@Backing(type="int")
enum LinkState {
    /** The endpoint exists; no frontend is attached. */
    LISTENING = 0,
    /** A frontend is attached but the guest driver has not set DRIVER_OK. */
    CONNECTED = 1,
    /** The guest driver set DRIVER_OK; queues are live. */
    DRIVER_OK = 2,
    /** The device stopped serving; DeviceStatus.lastError says why. */
    FAILED = 3,
}
