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
 * How a device is put in front of its guest.
 */
@VintfStability
@Backing(type="int")
enum TransportKind {
    /** A vhost-user unix socket that a VMM (crosvm, QEMU) connects to. */
    VHOST_USER = 0,
    /** The Gunyah virtio-backend interface: shared memory and doorbells, no VMM involved. */
    GUNYAH = 1,
    /**
     * Android's rpmb_dev frame protocol on a unix socket (what Trusty's storageproxyd speaks in
     * virt/sock mode); no virtqueues. Added in version 2: a version 1 service reports these
     * devices as VHOST_USER.
     */
    RPMB_DEV = 2,
}
