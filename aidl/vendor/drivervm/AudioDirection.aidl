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
 * Direction of a PCM stream, numbered as virtio-snd numbers it.
 */
@VintfStability
@Backing(type="int")
enum AudioDirection {
    /** Guest to hardware (VIRTIO_SND_D_OUTPUT). */
    OUTPUT = 0,
    /** Hardware to guest (VIRTIO_SND_D_INPUT). */
    INPUT = 1,
}
