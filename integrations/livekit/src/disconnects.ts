/**
 * What the bridge does when LiveKit disconnects it from a room (docs/DESIGN.md §14): it rejoins after
 * a network failure, a server shutdown and the like, but not after a disconnect someone meant: another
 * participant took its identity, or an operator removed it (RoomService.RemoveParticipant). Then it
 * stays out of that room and says why.
 */
import { DisconnectReason } from "@livekit/rtc-node";

/** Why the bridge stays out of `room` after this disconnect, or null when it rejoins. */
export function finalDisconnect(reason: DisconnectReason, room: string, identity: string): string | null {
  switch (reason) {
    case DisconnectReason.DUPLICATE_IDENTITY:
      return `another participant joined ${room} as ${identity}: not rejoining`;
    case DisconnectReason.PARTICIPANT_REMOVED:
      return `an operator removed ${identity} from ${room}: not rejoining`;
    default:
      return null;
  }
}
