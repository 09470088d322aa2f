import subprocess, sys
def load(p):
    w,h=map(int,subprocess.check_output(['ffprobe','-v','error','-show_entries','stream=width,height','-of','csv=p=0',p]).decode().strip().split(','))
    raw=subprocess.check_output(['ffmpeg','-v','error','-i',p,'-f','rawvideo','-pix_fmt','gray','-'])
    return w,h,raw
# "line score": the largest mean signed luma difference (student - teacher) along one row or column within 40 px of an edge,
# over the middle 80 % of that row/column; a painted line shows as one row far from 0.
w,h,a=load(sys.argv[1]); _,_,b=load(sys.argv[2])
best=(0,'')
for y in list(range(0,40))+list(range(h-40,h)):
    s=sum(b[y*w+x]-a[y*w+x] for x in range(w//10,w-w//10))/(w*0.8)
    if abs(s)>abs(best[0]): best=(s,f'row {y}')
for x in list(range(0,40))+list(range(w-40,w)):
    s=sum(b[y*w+x]-a[y*w+x] for y in range(h//10,h-h//10))/(h*0.8)
    if abs(s)>abs(best[0]): best=(s,f'col {x}')
print(f"{best[0]:+.1f} {best[1]}")
