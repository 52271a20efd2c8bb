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
// Snapshot of the vendor.drivervm AIDL API in the form `aidl --dumpapi` prints. Files
// under a numbered directory are frozen: the .hash beside them covers these bytes and
// shipped devices depend on them, so they never change. current/ follows the sources.

package vendor.drivervm;
@VintfStability
parcelable DeviceStatus {
  String id;
  vendor.drivervm.DeviceKind kind;
  String guest;
  vendor.drivervm.TransportKind transport;
  String endpoint;
  vendor.drivervm.LinkState link;
  long negotiatedFeatures;
  vendor.drivervm.QueueCounters[] queues;
  String lastError;
  String kindName;
}
